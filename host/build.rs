//! Lets the binary find `libonnxruntime.so.1` in its own directory (and in
//! `../lib`), so nobody has to set `LD_LIBRARY_PATH` to run it.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN:$ORIGIN/../lib");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
