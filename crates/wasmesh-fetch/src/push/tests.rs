use super::*;
use crate::wasm::unwrap_archive;

#[test]
fn image_formats_hold_the_module_as_the_fetcher_expects() {
    let module = b"\0asm\x01\0\0\0\0\x02\x01y".to_vec();
    for format in [PushFormat::OciImage, PushFormat::DockerImage] {
        let (blobs, manifest, content_type) = build_image(&module, format);
        assert_eq!(
            unwrap_archive(blobs[0].clone(), 1 << 20).unwrap(),
            module,
            "{format:?}"
        );
        let doc: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(doc["mediaType"], content_type);
        assert_eq!(
            doc["layers"][0]["digest"],
            format!("sha256:{}", sha256_hex(&blobs[0]))
        );
        assert_eq!(
            doc["config"]["digest"],
            format!("sha256:{}", sha256_hex(&blobs[1]))
        );
    }
    let (blobs, manifest, _) = build_image(&module, PushFormat::Wasm);
    assert_eq!(blobs[0], module);
    let doc: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(doc["layers"].as_array().unwrap().len(), 2);
    let (_, manifest, _) = build_image(&module, PushFormat::WasmSingleLayer);
    let doc: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(doc["layers"].as_array().unwrap().len(), 1);
}

#[test]
fn pushing_the_same_module_twice_gives_the_same_digest() {
    let module = b"\0asm\x01\0\0\0";
    assert_eq!(
        build_image(module, PushFormat::OciImage).1,
        build_image(module, PushFormat::OciImage).1
    );
}
