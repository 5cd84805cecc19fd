//! A ZeroTask plugin in Rust (std only): typed C-ABI functions, and the manifest embedded as the
//! exported `zerotask_manifest` symbol, so the library is the whole plugin.
//! Built by `Plugins/build.sh` when cargo is installed (cargo names the file `librusty.so`; the
//! script installs it as `rusty.so`).

use std::ffi::{CStr, CString, c_char, c_void};

/// A `const char *` the host reads; a raw pointer is not `Sync`, so it is wrapped.
#[repr(transparent)]
pub struct ManifestText(*const c_char);
unsafe impl Sync for ManifestText {}

#[unsafe(no_mangle)]
pub static zerotask_manifest: ManifestText = ManifestText(
    c"{\"abi\": 1, \"name\": \"rusty\", \"version\": \"1.0.0\", \"description\": \"An example plugin in Rust\", \
      \"methods\": [\
        {\"name\": \"rusty.gcd\", \"symbol\": \"rusty_gcd\", \"params\": [{\"name\": \"a\", \"type\": \"uint64\"}, {\"name\": \"b\", \"type\": \"uint64\"}], \"returns\": \"uint64\", \"doc\": \"greatest common divisor\"},\
        {\"name\": \"rusty.shout\", \"symbol\": \"rusty_shout\", \"params\": [{\"name\": \"s\", \"type\": \"string\"}], \"returns\": {\"type\": \"string\", \"free\": \"rusty_free\"}, \"doc\": \"s upper-cased, with a !\"}\
      ]}"
        .as_ptr(),
);

/// Edition 2024 asks for `#[unsafe(no_mangle)]`: exporting an unmangled symbol is unsafe.
#[unsafe(no_mangle)]
pub extern "C" fn rusty_gcd(a: u64, b: u64) -> u64 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The host hands a valid NUL-terminated UTF-8 string and frees the result with `rusty_free`.
#[unsafe(no_mangle)]
pub extern "C" fn rusty_shout(s: *const c_char) -> *mut c_char {
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().to_uppercase() + "!";
    CString::new(text).map(CString::into_raw).unwrap_or(std::ptr::null_mut())
}

#[unsafe(no_mangle)]
pub extern "C" fn rusty_free(p: *mut c_void) {
    if !p.is_null() {
        drop(unsafe { CString::from_raw(p as *mut c_char) });
    }
}
