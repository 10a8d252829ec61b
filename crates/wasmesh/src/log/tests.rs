use super::*;

#[test]
fn colour_only_on_a_terminal_without_no_color() {
    assert!(colour(true, None));
    assert!(!colour(false, None), "a pipe or a file gets no escape codes");
    assert!(!colour(true, Some("1".into())));
    assert!(colour(true, Some("".into())), "an empty NO_COLOR is unset");
}

#[test]
fn the_lines_after_the_first_of_an_event_are_indented() {
    let one = b"2026-01-01T00:00:00Z  INFO wasmesh_proxy::run: stopped\n";
    assert_eq!(&*indent_continuations(one), one, "one line stays as it is");
    let panic = b"2026-01-01T00:00:00Z ERROR wasmesh_wasm::host: panicked at src/lib.rs:18:9:\n\
                  the reason plugin=apps.p\n";
    assert_eq!(
        String::from_utf8_lossy(&indent_continuations(panic)),
        "2026-01-01T00:00:00Z ERROR wasmesh_wasm::host: panicked at src/lib.rs:18:9:\n    \
         the reason plugin=apps.p\n"
    );
}
