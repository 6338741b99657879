//! Header values a file answer computes: Content-Type from the extension (mime_guess's table,
//! with a charset for text) and Content-Disposition for downloads (RFC 6266, with RFC 8187's
//! `filename*` for names that are not plain ASCII).

/// `text/html; charset=utf-8`, `image/png`, ... ; `application/octet-stream` when unknown.
pub fn content_type(path: &str) -> String {
    let Some(mime) = mime_guess::from_path(path).first() else {
        return "application/octet-stream".into();
    };
    let essence = mime.essence_str();
    if mime.type_() == mime_guess::mime::TEXT
        || essence == "application/javascript"
        || essence == "application/json"
        || essence == "image/svg+xml"
    {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    }
}

/// `attachment; filename="report.pdf"`, adding `filename*=UTF-8''…` when the name is not
/// printable ASCII (the plain `filename` then carries a fallback with `?` for what it cannot
/// say, as the `content-disposition` package does). Only the final path segment is used.
pub fn attachment(name: &str) -> String {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let plain = name.bytes().all(|b| (0x20..0x7f).contains(&b));
    let fallback: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect();
    let mut out = format!("attachment; filename=\"{fallback}\"");
    if !plain || fallback != name {
        out.push_str("; filename*=UTF-8''");
        for b in name.bytes() {
            // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_with_charset_for_text() {
        assert_eq!(content_type("a/index.html"), "text/html; charset=utf-8");
        // RFC 9239: text/javascript is the one type for JavaScript.
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("x.unknownext"), "application/octet-stream");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            attachment("export.csv"),
            "attachment; filename=\"export.csv\""
        );
        assert_eq!(attachment("/a/b/r.pdf"), "attachment; filename=\"r.pdf\"");
        assert_eq!(
            attachment("résumé €.pdf"),
            "attachment; filename=\"r?sum? ?.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
        );
        assert_eq!(
            attachment("a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
    }
}
