use super::*;
use std::io::Write;

/// A minimal module: header, one custom section named "x" holding "hi".
fn module() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0, 4, 1, b'x', b'h', b'i']);
    m
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_complete_module_passes() {
    assert_eq!(check_module(&module()), Ok(()));
    assert_eq!(check_module(b"\0asm\x01\0\0\0"), Ok(()));
}

#[test]
fn bad_magic_short_and_truncated_modules_say_why() {
    assert!(check_module(b"\0asm")
        .unwrap_err()
        .contains("shorter than a Wasm header"));
    assert!(check_module(b"<html>hello</html>")
        .unwrap_err()
        .contains("does not start with the Wasm magic"));
    let m = module();
    let err = check_module(&m[..m.len() - 1]).unwrap_err();
    assert_eq!(err, "truncated: section 0 at offset 8 needs 4 bytes, 3 remain");
    assert!(check_module(b"\0asm\x0d\0\x01\0")
        .unwrap_err()
        .contains("version"));
}

#[test]
fn gzip_tar_and_tar_gz_wrappers_are_unwrapped() {
    let m = module();
    assert_eq!(unwrap_archive(gzip(&m), 1 << 20).unwrap(), m);
    let t = tar_of(&[("README", b"docs"), ("dir/plugin.wasm", &m)]);
    assert_eq!(unwrap_archive(t.clone(), 1 << 20).unwrap(), m);
    assert_eq!(unwrap_archive(gzip(&t), 1 << 20).unwrap(), m);
    assert_eq!(
        unwrap_archive(tar_of(&[("filter.wasm", &m)]), 1 << 20).unwrap(),
        m
    );
    assert_eq!(unwrap_archive(m.clone(), 1 << 20).unwrap(), m);
}

#[test]
fn a_tar_without_a_module_or_with_two_is_refused() {
    assert!(
        matches!(unwrap_archive(tar_of(&[("a.txt", b"x")]), 1 << 20), Err(UnwrapError::Invalid(e)) if e.contains("no plugin.wasm"))
    );
    assert!(
        matches!(unwrap_archive(tar_of(&[("a.wasm", b"x"), ("b.wasm", b"y")]), 1 << 20), Err(UnwrapError::Invalid(e)) if e.contains("a.wasm, b.wasm"))
    );
}

#[test]
fn unpacking_stops_at_the_limit() {
    let big = vec![0u8; 10_000];
    assert!(matches!(
        unwrap_archive(gzip(&big), 1000),
        Err(UnwrapError::TooLarge(_))
    ));
}

proptest::proptest! {
    /// Whatever a server sends, checking and unwrapping it answers, never panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        let _ = check_module(&bytes);
        let _ = unwrap_archive(bytes.clone(), 1 << 16);
        let mut with_magic = b"\0asm\x01\0\0\0".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = check_module(&with_magic);
    }

    /// A module cut anywhere before its end is refused.
    #[test]
    fn every_truncation_of_a_module_is_refused(cut in 0usize..18) {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[0, 5, 4, b'n', b'a', b'm', b'e']);
        m.extend_from_slice(&[0, 1, 0]);
        proptest::prop_assume!(cut < m.len() && cut != 8 && cut != 15);
        proptest::prop_assert!(check_module(&m[..cut]).is_err(), "cut at {}", cut);
    }
}
