//! A baseline JPEG decoded at 1/8 scale: one pixel per 8x8 block, the
//! block's average, which is its DC coefficient. This is what a phone photo
//! (12 megapixels and more) needs for a 416-pixel model input.
//!
//! Why our own: at 1/8 scale every coefficient but the DC is thrown away,
//! yet a general decoder still stores, dequantises and transforms each
//! block. jpeg-decoder's 1/8 path took 23 ms in the component for a
//! 4000x3000 photo (libjpeg-turbo, Pillow's decoder, takes 10 ms
//! natively), most of it per-coefficient work and byte-at-a-time reads.
//! Here the AC coefficients are only Huffman-decoded to find where each
//! block ends, from a 64-bit bit buffer with lookup tables that skip one or
//! two codes with their value bits in one step: 10.4 ms in the component.
//!
//! The detector calls it for a JPEG it decodes at 1/8 (`src/decode/jpeg.rs`).
//! It takes the common case only: baseline (SOF0/SOF1), 8-bit, Huffman,
//! greyscale or YCbCr (JFIF), one interleaved scan, sampling factors of 1
//! or 2, restart markers. Anything else, and any damage, is `None`, and
//! the caller decodes with jpeg-decoder instead.

/// RGB8 pixels of a `width` x `height` JPEG decoded at 1/8 scale:
/// `ceil(width / 8)` by `ceil(height / 8)`, the size libjpeg and
/// jpeg-decoder give. The size is the caller's reading of the frame header,
/// checked against its limits: a frame of another size is `None`.
pub fn decode_eighth(bytes: &[u8], width: u32, height: u32) -> Option<(u32, u32, Vec<u8>)> {
    let (frame, scan_start) = Frame::parse(bytes)?;
    if (frame.width, frame.height) != (width as usize, height as usize) {
        return None;
    }
    let planes = frame.decode_dc(bytes.get(scan_start..)?)?;
    Some(frame.to_rgb(&planes))
}

/// One image component of the frame (Y, Cb or Cr; or grey).
#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    /// The DC quantiser of its quantisation table.
    dc_quant: i32,
    dc_table: usize,
    ac_table: usize,
}

/// What the headers say, up to the first scan.
struct Frame {
    width: usize,
    height: usize,
    components: Vec<Component>,
    h_max: usize,
    v_max: usize,
    restart_interval: usize,
    dc_tables: [Option<Huffman>; 4],
    ac_tables: [Option<Huffman>; 4],
}

impl Frame {
    /// Reads the segments from SOI to the first SOS; the offset of the scan's
    /// entropy-coded data.
    fn parse(bytes: &[u8]) -> Option<(Frame, usize)> {
        let mut quant = [0i32; 4];
        let mut frame = Frame {
            width: 0,
            height: 0,
            components: Vec::new(),
            h_max: 1,
            v_max: 1,
            restart_interval: 0,
            dc_tables: Default::default(),
            ac_tables: Default::default(),
        };
        let mut i = 2;
        loop {
            if *bytes.get(i)? != 0xFF {
                return None;
            }
            while bytes.get(i) == Some(&0xFF) {
                i += 1;
            }
            let code = *bytes.get(i)?;
            i += 1;
            let len = usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
            let segment = bytes.get(i + 2..i + len.max(2))?;
            i += len;
            match code {
                // Baseline and extended sequential Huffman frames.
                0xC0 | 0xC1 => frame.read_sof(segment)?,
                // Progressive, lossless, hierarchical or arithmetic coding.
                0xC2..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC) => return None,
                0xC4 => frame.read_dht(segment)?,
                0xDB => read_dqt(segment, &mut quant)?,
                0xDD => {
                    frame.restart_interval =
                        usize::from(u16::from_be_bytes(segment.get(..2)?.try_into().ok()?))
                }
                // Adobe's marker: its colour transform flag (RGB, CMYK, YCCK)
                // is left to the general decoder.
                0xEE => return None,
                0xDA => {
                    frame.read_sos(segment, &quant)?;
                    return Some((frame, i));
                }
                0xD9 => return None,
                _ => {}
            }
        }
    }

    fn read_sof(&mut self, s: &[u8]) -> Option<()> {
        let (precision, count) = (*s.first()?, usize::from(*s.get(5)?));
        self.height = usize::from(u16::from_be_bytes([*s.get(1)?, *s.get(2)?]));
        self.width = usize::from(u16::from_be_bytes([*s.get(3)?, *s.get(4)?]));
        if precision != 8 || self.width == 0 || self.height == 0 || !matches!(count, 1 | 3) {
            return None;
        }
        for c in s.get(6..6 + 3 * count)?.chunks_exact(3) {
            let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if !(1..=2).contains(&h) || !(1..=2).contains(&v) || c[2] > 3 {
                return None;
            }
            self.components.push(Component {
                id: c[0],
                h,
                v,
                // The table's number, until the scan puts its quantiser here.
                dc_quant: i32::from(c[2]),
                ..Component::default()
            });
        }
        // Component ids R, G, B mean RGB, not YCbCr.
        if self.components.iter().map(|c| c.id).eq(*b"RGB") {
            return None;
        }
        if count == 1 {
            // A lone component is never interleaved: one block per MCU.
            self.components[0].h = 1;
            self.components[0].v = 1;
        }
        self.h_max = self.components.iter().map(|c| c.h).max()?;
        self.v_max = self.components.iter().map(|c| c.v).max()?;
        Some(())
    }

    fn read_dht(&mut self, mut s: &[u8]) -> Option<()> {
        while !s.is_empty() {
            let (class, id) = (*s.first()? >> 4, usize::from(*s.first()? & 15));
            let counts: [u8; 16] = s.get(1..17)?.try_into().ok()?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let table = Huffman::new(&counts, s.get(17..17 + total)?)?;
            match (class, id) {
                (0, 0..=3) => self.dc_tables[id] = Some(table),
                (1, 0..=3) => self.ac_tables[id] = Some(table),
                _ => return None,
            }
            s = &s[17 + total..];
        }
        Some(())
    }

    fn read_sos(&mut self, s: &[u8], quant: &[i32; 4]) -> Option<()> {
        let count = usize::from(*s.first()?);
        if self.components.is_empty() {
            return None; // a scan before the frame header
        }
        // One scan with every component, the whole spectrum, no refinement.
        if count != self.components.len() || s.get(1 + 2 * count..4 + 2 * count)? != [0, 63, 0] {
            return None;
        }
        for (k, c) in s.get(1..1 + 2 * count)?.chunks_exact(2).enumerate() {
            let component = self.components.get_mut(k).filter(|x| x.id == c[0])?;
            let (dc, ac) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if dc > 3 || ac > 3 || self.dc_tables[dc].is_none() || self.ac_tables[ac].is_none() {
                return None;
            }
            component.dc_table = dc;
            component.ac_table = ac;
            component.dc_quant = quant[component.dc_quant as usize];
            if component.dc_quant == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Each component's DC coefficients, dequantised, one per block, as
    /// `(blocks across, plane)`.
    fn decode_dc(&self, data: &[u8]) -> Option<Vec<(usize, Vec<i32>)>> {
        let interleaved = self.components.len() > 1;
        let (mcus_x, mcus_y) = if interleaved {
            (
                self.width.div_ceil(8 * self.h_max),
                self.height.div_ceil(8 * self.v_max),
            )
        } else {
            (self.width.div_ceil(8), self.height.div_ceil(8))
        };
        let mut planes: Vec<(usize, Vec<i32>)> = self
            .components
            .iter()
            .map(|c| (mcus_x * c.h, vec![0; mcus_x * c.h * mcus_y * c.v]))
            .collect();
        let tables: Vec<(&Huffman, &Huffman)> = self
            .components
            .iter()
            .map(|c| {
                Some((
                    self.dc_tables[c.dc_table].as_ref()?,
                    self.ac_tables[c.ac_table].as_ref()?,
                ))
            })
            .collect::<Option<_>>()?;
        let mut bits = Bits::new(data);
        let mut predictions = vec![0i32; self.components.len()];
        let mut until_restart = self.restart_interval;
        for my in 0..mcus_y {
            for mx in 0..mcus_x {
                if self.restart_interval > 0 {
                    if until_restart == 0 {
                        bits.restart()?;
                        predictions.fill(0);
                        until_restart = self.restart_interval;
                    }
                    until_restart -= 1;
                }
                for (k, c) in self.components.iter().enumerate() {
                    let (across, plane) = &mut planes[k];
                    for by in 0..c.v {
                        for bx in 0..c.h {
                            let diff = bits.dc_diff(tables[k].0)?;
                            predictions[k] = predictions[k].wrapping_add(diff);
                            bits.skip_ac(tables[k].1)?;
                            let at = (my * c.v + by) * *across + mx * c.h + bx;
                            plane[at] = predictions[k].wrapping_mul(c.dc_quant);
                        }
                    }
                }
            }
        }
        bits.check()?;
        Some(planes)
    }

    /// The DC planes to RGB8 at 1/8 scale: chroma planes sampled at half
    /// the luma's rate are brought up with a triangle filter, as libjpeg's
    /// "fancy" upsampling does, then YCbCr to RGB with JFIF's equations.
    fn to_rgb(&self, planes: &[(usize, Vec<i32>)]) -> (u32, u32, Vec<u8>) {
        let (width, height) = (self.width.div_ceil(8), self.height.div_ceil(8));
        // A block's average pixel: DC / 8 (rounded) + 128.
        let level = |dc: i32| (dc.wrapping_add(4) >> 3).wrapping_add(128).clamp(0, 255);
        let full: Vec<Vec<i32>> = self
            .components
            .iter()
            .zip(planes)
            .map(|(c, (across, plane))| {
                let rows = plane.len() / across;
                let levels: Vec<i32> = plane.iter().map(|&dc| level(dc) * 16).collect();
                let (fx, fy) = (self.h_max / c.h, self.v_max / c.v);
                let wide = upsample_rows(&levels, *across, rows, fx);
                let tall = upsample_columns(&wide, across * fx, rows, fy);
                crop(&tall, across * fx, width, height)
            })
            .collect();
        let mut rgb = Vec::with_capacity(width * height * 3);
        // Levels carry 4 fractional bits from the upsampling.
        let sample = |v: i32| ((v + 8) >> 4).clamp(0, 255);
        if let [y] = full.as_slice() {
            rgb.extend(y.iter().flat_map(|&v| [sample(v) as u8; 3]));
        } else {
            for ((&y, &cb), &cr) in full[0].iter().zip(&full[1]).zip(&full[2]) {
                let (y, cb, cr) = (sample(y), sample(cb) - 128, sample(cr) - 128);
                // JFIF's YCbCr to RGB in 16-bit fixed point.
                let channel = |v: i32| ((y << 16) + v + (1 << 15)) >> 16;
                rgb.extend_from_slice(&[
                    channel(91_881 * cr).clamp(0, 255) as u8,
                    channel(-22_554 * cb - 46_802 * cr).clamp(0, 255) as u8,
                    channel(116_130 * cb).clamp(0, 255) as u8,
                ]);
            }
        }
        (width as u32, height as u32, rgb)
    }
}

/// Each table's DC quantiser (the first of its 64 values).
fn read_dqt(mut s: &[u8], quant: &mut [i32; 4]) -> Option<()> {
    while !s.is_empty() {
        let (precision, id) = (*s.first()? >> 4, usize::from(*s.first()? & 15));
        let len = if precision == 0 { 64 } else { 128 };
        let first = s.get(1..1 + len)?;
        *quant.get_mut(id)? = if precision == 0 {
            i32::from(first[0])
        } else {
            i32::from(u16::from_be_bytes([first[0], first[1]]))
        };
        s = &s[1 + len..];
    }
    Some(())
}

/// Doubles a plane's rows' length (`factor` 2) with libjpeg's triangle
/// filter: each output sample is 3/4 of its own input sample and 1/4 of
/// the nearer neighbour (the edges repeat).
fn upsample_rows(plane: &[i32], width: usize, rows: usize, factor: usize) -> Vec<i32> {
    if factor == 1 {
        return plane.to_vec();
    }
    let mut out = Vec::with_capacity(plane.len() * 2);
    for row in plane.chunks_exact(width).take(rows) {
        for x in 0..width {
            let (left, right) = (row[x.saturating_sub(1)], row[(x + 1).min(width - 1)]);
            out.push((3 * row[x] + left + 2) >> 2);
            out.push((3 * row[x] + right + 2) >> 2);
        }
    }
    out
}

/// The same down the columns.
fn upsample_columns(plane: &[i32], width: usize, rows: usize, factor: usize) -> Vec<i32> {
    if factor == 1 {
        return plane.to_vec();
    }
    let mut out = Vec::with_capacity(plane.len() * 2);
    for y in 0..rows {
        let row = &plane[y * width..][..width];
        let above = &plane[y.saturating_sub(1) * width..][..width];
        let below = &plane[(y + 1).min(rows - 1) * width..][..width];
        for near in [above, below] {
            out.extend(row.iter().zip(near).map(|(&r, &n)| (3 * r + n + 2) >> 2));
        }
    }
    out
}

/// The top-left `width` x `height` of a plane `across` wide (MCUs pad the
/// image to whole blocks).
fn crop(plane: &[i32], across: usize, width: usize, height: usize) -> Vec<i32> {
    let mut out = Vec::with_capacity(width * height);
    for row in plane.chunks_exact(across).take(height) {
        out.extend_from_slice(&row[..width]);
    }
    out
}

/// Bits of lookahead the tables decode in one step.
const LOOKAHEAD: u32 = 9;

/// Bits of lookahead of the AC tables' skip step: a code and its value
/// bits together, most often.
const SKIP_LOOKAHEAD: u32 = 11;

/// A skip entry's advance for an end-of-block code.
const END_OF_BLOCK: u16 = 64;

/// A Huffman table: codes up to `LOOKAHEAD` bits by one lookup, longer
/// ones canonically, length by length.
struct Huffman {
    /// By the next `LOOKAHEAD` bits: (code length, symbol), length 0 when
    /// the code is longer.
    fast: Vec<(u8, u8)>,
    /// For each length 1-16: the largest code of that length (-1 if none),
    /// and the offset from a code of that length to its symbol's index.
    max_code: [i32; 17],
    offset: [i32; 17],
    symbols: Vec<u8>,
    /// For AC tables, by the next `SKIP_LOOKAHEAD` bits, when a code and
    /// its coefficient's value bits fit in them: the bits to skip (low 5
    /// bits) and the coefficients they advance by (`END_OF_BLOCK` for the
    /// end of the block); 0 when they do not fit.
    skip: Vec<u16>,
    /// The same for up to two codes in a row: bits to skip (low 5 bits),
    /// coefficients advanced (next 6 bits), and whether the block ends
    /// there (bit 11). 0 when not even one code fits.
    skip_two: Vec<u16>,
}

impl Huffman {
    fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Huffman> {
        let mut fast = vec![(0u8, 0u8); 1 << LOOKAHEAD];
        let (mut max_code, mut offset) = ([-1i32; 17], [0i32; 17]);
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= 1 << len {
                    return None; // more codes than fit in `len` bits
                }
                if len <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len;
                    let first = (code << shift) as usize;
                    fast[first..first + (1 << shift)].fill((len as u8, symbols[k]));
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        let mut skip = vec![0u16; 1 << SKIP_LOOKAHEAD];
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            for _ in 0..counts[len as usize - 1] {
                let rs = symbols[k];
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                let total = len + size;
                if total <= SKIP_LOOKAHEAD {
                    let advance = match (run, size) {
                        (15, 0) => 16,
                        (_, 0) => END_OF_BLOCK,
                        _ => run as u16 + 1,
                    };
                    let shift = SKIP_LOOKAHEAD - len;
                    let first = (code << shift) as usize;
                    skip[first..first + (1 << shift)].fill(total as u16 | advance << 5);
                }
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        Some(Huffman {
            fast,
            max_code,
            offset,
            symbols: symbols.to_vec(),
            skip_two: pair_skips(&skip),
            skip,
        })
    }
}

/// Bit 11 of a `skip_two` entry: the block ends with these codes.
const ENDS_BLOCK: u16 = 1 << 11;

/// `Huffman::skip_two` from the one-code `skip` table: where the first
/// code and its value bits leave room in the lookahead for a second whole
/// one, both are taken (fewer dependent lookups per block).
fn pair_skips(skip: &[u16]) -> Vec<u16> {
    let mask = (1usize << SKIP_LOOKAHEAD) - 1;
    let parts = |entry: u16| (u32::from(entry & 31), entry >> 5);
    (0..skip.len())
        .map(|bits| {
            let first = skip[bits];
            if first == 0 {
                return 0;
            }
            let (len, advance) = parts(first);
            if advance == END_OF_BLOCK {
                return len as u16 | ENDS_BLOCK;
            }
            let second = skip[(bits << len) & mask];
            let (len2, advance2) = parts(second);
            if second == 0 || len + len2 > SKIP_LOOKAHEAD {
                return len as u16 | advance << 5;
            }
            if advance2 == END_OF_BLOCK {
                return (len + len2) as u16 | advance << 5 | ENDS_BLOCK;
            }
            (len + len2) as u16 | (advance + advance2) << 5
        })
        .collect()
}

/// The entropy-coded data, read most significant bit first into a 64-bit
/// buffer; stuffed `FF 00` bytes are `FF`, and a marker ends the data
/// (zeros are read past it, and counted).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buffer: u64,
    count: u32,
    /// Bytes of zeros read past the end of the data.
    overrun: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            buffer: 0,
            count: 0,
            overrun: 0,
        }
    }

    /// At least 57 bits in the buffer.
    #[inline]
    fn refill(&mut self) {
        if self.count > 56 {
            return;
        }
        // Most often the next 8 bytes hold no FF (no stuffing, no marker):
        // take as many whole bytes as fit at once.
        if let Some(next) = self.data.get(self.pos..self.pos + 8) {
            let x = u64::from_be_bytes(next.try_into().unwrap_or([0xFF; 8]));
            let inverted = !x;
            let has_ff =
                inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080;
            if has_ff == 0 {
                let n = (64 - self.count) / 8;
                self.buffer |= (x >> (64 - 8 * n)) << (64 - 8 * n - self.count);
                self.pos += n as usize;
                self.count += 8 * n;
                return;
            }
        }
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0x00) => {
                    self.pos += 2;
                    0xFF
                }
                // A marker, or the end: zeros, and the position stays.
                Some(&0xFF) | None => {
                    self.overrun += 1;
                    0
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.buffer |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline]
    fn peek(&self, n: u32) -> u32 {
        (self.buffer >> (64 - n)) as u32
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.buffer <<= n;
        self.count -= n;
    }

    /// The next Huffman symbol.
    #[inline]
    /// The caller has made sure of 16 bits in the buffer.
    fn symbol(&mut self, table: &Huffman) -> Option<u8> {
        let (len, symbol) = table.fast[self.peek(LOOKAHEAD) as usize];
        if len > 0 {
            self.consume(u32::from(len));
            return Some(symbol);
        }
        for len in LOOKAHEAD + 1..=16 {
            let code = self.peek(len) as i32;
            if code <= table.max_code[len as usize] {
                self.consume(len);
                let index = usize::try_from(code + table.offset[len as usize]).ok()?;
                return table.symbols.get(index).copied();
            }
        }
        None
    }

    /// A DC coefficient's difference from the previous block's.
    #[inline]
    fn dc_diff(&mut self, table: &Huffman) -> Option<i32> {
        // A code of at most 16 bits and at most 16 value bits.
        if self.count < 32 {
            self.refill();
        }
        let size = u32::from(self.symbol(table)?);
        if size == 0 {
            return Some(0);
        }
        if size > 16 {
            return None;
        }
        let raw = self.peek(size) as i32;
        self.consume(size);
        // JPEG's sign extension: a leading 0 bit means negative.
        Some(if raw < 1 << (size - 1) {
            raw - (1 << size) + 1
        } else {
            raw
        })
    }

    /// Skips a block's 63 AC coefficients: decoded, not kept.
    #[inline]
    fn skip_ac(&mut self, table: &Huffman) -> Option<()> {
        let mut k = 1;
        while k < 64 {
            // A skip takes at most 31 bits (a 16-bit code, 15 value bits):
            // refill only then, every few coefficients.
            if self.count < 32 {
                self.refill();
            }
            // Up to two codes at once, unless they could run past the
            // block's 63rd coefficient (then the next block's bits follow).
            let two = table.skip_two[self.peek(SKIP_LOOKAHEAD) as usize];
            let (advance, ends) = (u32::from(two >> 5 & 63), two & ENDS_BLOCK != 0);
            if two != 0 && k + advance + u32::from(ends) <= 64 {
                self.consume(u32::from(two & 31));
                if ends {
                    return Some(());
                }
                k += advance;
                continue;
            }
            let entry = table.skip[self.peek(SKIP_LOOKAHEAD) as usize];
            if entry != 0 {
                self.consume(u32::from(entry & 31));
                match entry >> 5 {
                    END_OF_BLOCK => return Some(()),
                    advance => k += u32::from(advance),
                }
                continue;
            }
            let rs = self.symbol(table)?;
            let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
            if size == 0 {
                if run != 15 {
                    return Some(()); // end of block
                }
                k += 16;
                continue;
            }
            k += run + 1;
            // The coefficient's value bits (at most 15; 32 were there).
            self.consume(size);
        }
        (k == 64).then_some(())
    }

    /// Past a restart marker: the bits left in the buffer are the last
    /// byte's padding, and the marker is next.
    fn restart(&mut self) -> Option<()> {
        self.check()?;
        self.buffer = 0;
        self.count = 0;
        self.overrun = 0;
        let mut at = self.pos;
        // Fill bytes (FF) may come before a marker.
        while self.data.get(at..at + 2) == Some(&[0xFF, 0xFF]) {
            at += 1;
        }
        match self.data.get(at..at + 2)? {
            [0xFF, 0xD0..=0xD7] => {
                self.pos = at + 2;
                Some(())
            }
            _ => None,
        }
    }

    /// No bit was taken from the zeros read past the data's end: the data
    /// held every block.
    fn check(&self) -> Option<()> {
        (self.overrun * 8 <= self.count as usize).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    fn jpeg(img: &image::RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(img)
            .unwrap();
        out
    }

    /// jpeg-decoder's own 1/8 decode of the same file.
    fn reference(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut d = jpeg_decoder::Decoder::new(bytes);
        d.read_info().unwrap();
        let info = d.info().unwrap();
        let (w, h) = d
            .scale(info.width.div_ceil(8), info.height.div_ceil(8))
            .unwrap();
        let mut px = d.decode().unwrap();
        if info.pixel_format == jpeg_decoder::PixelFormat::L8 {
            px = px.iter().flat_map(|&v| [v; 3]).collect();
        }
        (u32::from(w), u32::from(h), px)
    }

    fn photo_like(width: u32, height: u32) -> image::RgbImage {
        image::RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            Rgb([
                (255.0 * fx) as u8,
                (128.0 + 120.0 * (9.0 * fx).sin() * (5.0 * fy).cos()) as u8,
                (255.0 * fy) as u8,
            ])
        })
    }

    #[test]
    fn blocks_average_to_their_colour() {
        // 8x8 blocks of flat colours: each is one pixel at 1/8 scale.
        let colours = [[200, 30, 40], [10, 220, 90], [90, 80, 250], [128, 128, 128]];
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            Rgb(colours[((x / 16) + (y / 16)) as usize % colours.len()])
        });
        let (w, h, px) = decode_eighth(&jpeg(&img), 64, 48).expect("a baseline JPEG");
        assert_eq!((w, h), (8, 6));
        for (i, got) in px.chunks_exact(3).enumerate() {
            let (x, y) = (i as u32 % w * 8 + 4, i as u32 / w * 8 + 4);
            let want = img.get_pixel(x, y).0;
            // Chroma is subsampled and filtered, across colour edges too.
            for c in 0..3 {
                assert!(got[c].abs_diff(want[c]) <= 40, "{i}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn agrees_with_jpeg_decoder_at_one_eighth() {
        for (w, h) in [(1000, 750), (1001, 757), (64, 8)] {
            let bytes = jpeg(&photo_like(w, h));
            let ours = decode_eighth(&bytes, w, h).expect("a baseline JPEG");
            let theirs = reference(&bytes);
            assert_eq!((ours.0, ours.1), (theirs.0, theirs.1), "{w}x{h}");
            let diffs: Vec<u8> = ours
                .2
                .iter()
                .zip(&theirs.2)
                .map(|(a, b)| a.abs_diff(*b))
                .collect();
            let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
            let max = *diffs.iter().max().unwrap();
            // Rounding differs (libjpeg's, here), by a level or two.
            assert!(mean < 1.5 && max <= 6, "{w}x{h}: mean {mean}, max {max}");
        }
        // Greyscale: one component, never interleaved.
        let grey =
            image::GrayImage::from_fn(333, 222, |x, y| image::Luma([((x * 3 + y) % 256) as u8]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .write_image(grey.as_raw(), 333, 222, image::ExtendedColorType::L8)
            .unwrap();
        let ours = decode_eighth(&bytes, 333, 222).expect("a greyscale JPEG");
        let theirs = reference(&bytes);
        assert_eq!((ours.0, ours.1), (42, 28));
        let max = ours
            .2
            .iter()
            .zip(&theirs.2)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(max <= Some(2), "{max:?}");
    }

    #[test]
    fn refuses_what_it_does_not_take_and_damage() {
        let bytes = jpeg(&photo_like(256, 128));
        let (w, h) = (256, 128);
        assert!(decode_eighth(&bytes, w, h).is_some());
        assert!(decode_eighth(&bytes, w, h + 1).is_none());
        // Cut anywhere in the scan: the data runs out before the last block.
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for cut in (sos + 20..bytes.len() - 2).step_by(97) {
            let mut cut_short = bytes[..cut].to_vec();
            cut_short.extend_from_slice(&[0xFF, 0xD9]);
            assert!(decode_eighth(&cut_short, w, h).is_none(), "cut at {cut}");
        }
        // Progressive (SOF2) is left to the general decoder.
        let mut progressive = bytes.clone();
        let sof = progressive
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .unwrap();
        progressive[sof + 1] = 0xC2;
        assert!(decode_eighth(&progressive, w, h).is_none());
        // Noise in the scan never panics.
        let mut noisy = bytes.clone();
        for (i, b) in noisy[sos + 20..bytes.len() - 2].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        let _ = decode_eighth(&noisy, w, h);
        // Bytes changed anywhere, headers included: an answer or None, no
        // panic (a linear congruential sequence picks where and what).
        let mut seed = 12_345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 8) as usize
        };
        for _ in 0..500 {
            let mut changed = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % changed.len();
                changed[at] = next() as u8;
            }
            if let Some((w, h, px)) = decode_eighth(&changed, w, h) {
                assert_eq!(px.len(), w as usize * h as usize * 3);
            }
        }
        assert!(decode_eighth(b"\xFF\xD8", w, h).is_none());
        assert!(decode_eighth(&bytes[..sos], w, h).is_none());
    }
}
