use super::*;

#[derive(Debug, thiserror::Error)]
enum Inner {
    #[error("no such file")]
    Missing,
}

#[derive(Debug, thiserror::Error)]
enum Outer {
    /// Says its source's text and returns it as its source, too.
    #[error("cannot read {path}: {source}")]
    Repeats {
        path: &'static str,
        #[source]
        source: Inner,
    },
    /// Leaves its source's text to the chain.
    #[error("cannot read {path}")]
    Leaves {
        path: &'static str,
        #[source]
        source: Inner,
    },
}

#[test]
fn a_cause_is_said_once() {
    let repeats = Outer::Repeats {
        path: "a.yaml",
        source: Inner::Missing,
    };
    assert_eq!(error_text(&repeats), "cannot read a.yaml: no such file");
    let leaves = Outer::Leaves {
        path: "a.yaml",
        source: Inner::Missing,
    };
    assert_eq!(error_text(&leaves), "cannot read a.yaml: no such file");
}

#[test]
fn anyhow_context_is_kept() {
    let err = anyhow::Error::new(Outer::Leaves {
        path: "a.yaml",
        source: Inner::Missing,
    })
    .context("config directory d");
    assert_eq!(
        error_text(err.as_ref()),
        "config directory d: cannot read a.yaml: no such file"
    );
}
