//! The workspace's bindgen: generates Kotlin, Swift and Python bindings of
//! `mobile-ffi` from the built library (library mode), e.g.
//! `uniffi-bindgen generate target/debug/libmobile_ffi.so -l kotlin -o out`.
//!
//! Build it on its own, `cargo build -p uniffi-bindgen --features cli`: built
//! together with the library, feature unification would put UniFFI's
//! generator into the library too.

fn main() {
    uniffi::uniffi_bindgen_main()
}
