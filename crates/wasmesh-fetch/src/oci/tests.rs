use super::*;
use crate::push::{build_image, PushFormat};

fn manifest_of(format: PushFormat) -> OciImageManifest {
    let (_, manifest, _) = build_image(b"\0asm\x01\0\0\0", format);
    serde_json::from_slice(&manifest).unwrap()
}

#[test]
fn every_pushed_format_is_recognised() {
    assert!(
        matches!(layout_of(&manifest_of(PushFormat::Wasm)), Ok(Layout::RawWasm(l)) if l.media_type == WASM_LAYER)
    );
    assert!(matches!(
        layout_of(&manifest_of(PushFormat::WasmSingleLayer)),
        Ok(Layout::RawWasm(_))
    ));
    assert!(
        matches!(layout_of(&manifest_of(PushFormat::OciImage)), Ok(Layout::TarWithPlugin(l)) if l.media_type == OCI_LAYER_GZIP)
    );
    assert!(
        matches!(layout_of(&manifest_of(PushFormat::DockerImage)), Ok(Layout::TarWithPlugin(l)) if l.media_type == DOCKER_LAYER_GZIP)
    );
}

#[test]
fn other_images_say_which_layers_they_have() {
    let mut manifest = manifest_of(PushFormat::Wasm);
    for layer in &mut manifest.layers {
        layer.media_type = "application/octet-stream".into();
    }
    let err = layout_of(&manifest).unwrap_err();
    assert!(
        err.contains("layers: application/octet-stream, application/octet-stream"),
        "{err}"
    );
    manifest.layers.clear();
    assert_eq!(layout_of(&manifest).unwrap_err(), "the manifest has no layers");
}

#[test]
fn only_network_trouble_and_retryable_5xx_are_retried() {
    let server = |code| OciDistributionError::ServerError {
        code,
        url: String::new(),
        message: String::new(),
    };
    assert!(is_retryable(&server(503)));
    assert!(!is_retryable(&server(501)));
    assert!(!is_retryable(&server(404)));
    assert!(!is_retryable(&OciDistributionError::UnauthorizedError {
        url: String::new()
    }));
}
