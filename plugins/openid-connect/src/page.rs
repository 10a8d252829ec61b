//! The pages the plugin answers with itself: a login or provider error is shown to the user
//! as a short HTML page saying what happened, never as a hang or a bare status.

/// A small HTML page; `title` and `detail` are escaped.
pub fn html(title: &str, detail: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n\
         <body><h1>{t}</h1>\n<p>{d}</p>\n<p><a href=\"/\">Start again</a></p></body></html>\n",
        t = escape(title),
        d = escape(detail)
    )
}

/// HTML escaping of text content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_cannot_inject_markup() {
        let page = html("Login failed", "access_denied: <script>alert('x')</script>");
        assert!(page.contains("<h1>Login failed</h1>"));
        assert!(page.contains("access_denied: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
    }
}
