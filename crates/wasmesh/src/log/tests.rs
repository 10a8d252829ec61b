use super::*;

#[test]
fn colour_only_on_a_terminal_without_no_color() {
    assert!(colour(true, None));
    assert!(!colour(false, None), "a pipe or a file gets no escape codes");
    assert!(!colour(true, Some("1".into())));
    assert!(colour(true, Some("".into())), "an empty NO_COLOR is unset");
}
