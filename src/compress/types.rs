//! Which media types are worth compressing: the default list, or the patterns an app gave
//! (`compression: { types }`). Matching ignores parameters (`; charset=utf-8`) and case.

/// Types outside `text/*` and the `+json`/`+xml` suffixes that compress well. Images, audio,
/// video, fonts in woff/woff2 and archives are already compressed: encoding them again costs
/// CPU for a few bytes or none.
const DEFAULT_TYPES: &[&[u8]] = &[
    b"application/json",
    b"application/x-ndjson",
    b"application/javascript",
    b"application/x-javascript",
    b"application/ecmascript",
    b"application/xml",
    b"application/wasm",
    b"application/graphql",
    b"application/yaml",
    b"application/x-yaml",
    b"application/toml",
    b"application/rtf",
    b"application/x-sh",
    b"application/x-tar",
    b"application/x-www-form-urlencoded",
    b"application/vnd.ms-fontobject",
    b"application/x-font-ttf",
    b"application/x-font-otf",
    b"font/ttf",
    b"font/otf",
    b"image/bmp",
    b"image/x-icon",
    b"image/vnd.microsoft.icon",
];

/// Whether the default list calls this `Content-Type` compressible: `text/*`, any `+json` or
/// `+xml` type (`image/svg+xml`, `application/ld+json`), and `DEFAULT_TYPES`.
pub fn compressible(content_type: &[u8]) -> bool {
    let essence = essence(content_type);
    let Some(slash) = essence.iter().position(|&b| b == b'/') else {
        return false;
    };
    essence[..slash].eq_ignore_ascii_case(b"text")
        || ends_with_ignore_case(essence, b"+json")
        || ends_with_ignore_case(essence, b"+xml")
        || DEFAULT_TYPES
            .iter()
            .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The types a policy compresses.
#[derive(Clone, Debug, Default)]
pub enum Types {
    /// `compressible`.
    #[default]
    Default,
    /// The app's patterns, each `type/subtype` (exact), `type/*` (a whole top-level type) or
    /// `*/*+suffix` (a structured syntax suffix). JS checks their shape.
    Only(Box<[Box<[u8]>]>),
}

impl Types {
    /// The app's patterns, as strings from the `types` option.
    pub fn only<S: AsRef<[u8]>>(patterns: impl IntoIterator<Item = S>) -> Types {
        Types::Only(
            patterns
                .into_iter()
                .map(|p| p.as_ref().trim_ascii().into())
                .collect(),
        )
    }

    /// Whether an answer of this `Content-Type` is compressed. No type: never (we do not know
    /// what the bytes are, and sniffing them is the client's business).
    pub fn matches(&self, content_type: Option<&[u8]>) -> bool {
        let Some(content_type) = content_type else {
            return false;
        };
        match self {
            Types::Default => compressible(content_type),
            Types::Only(patterns) => {
                let essence = essence(content_type);
                patterns.iter().any(|p| pattern_matches(p, essence))
            }
        }
    }
}

fn pattern_matches(pattern: &[u8], essence: &[u8]) -> bool {
    if let Some(suffix) = pattern.strip_prefix(b"*/*") {
        return !suffix.is_empty() && ends_with_ignore_case(essence, suffix);
    }
    if let Some(top) = pattern.strip_suffix(b"/*") {
        return essence.len() > top.len()
            && essence[..top.len()].eq_ignore_ascii_case(top)
            && essence[top.len()] == b'/';
    }
    essence.eq_ignore_ascii_case(pattern)
}

/// `type/subtype` without parameters or surrounding space.
fn essence(content_type: &[u8]) -> &[u8] {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    content_type[..end].trim_ascii()
}

fn ends_with_ignore_case(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list() {
        for yes in [
            &b"text/html; charset=utf-8"[..],
            b"TEXT/CSS",
            b"text/event-stream",
            b"application/json",
            b"application/json;charset=utf-8",
            b" application/javascript ",
            b"image/svg+xml",
            b"application/ld+json",
            b"application/vnd.api+json",
            b"application/wasm",
            b"font/ttf",
        ] {
            assert!(compressible(yes), "{yes:?}");
        }
        for no in [
            &b"image/png"[..],
            b"image/jpeg",
            b"video/mp4",
            b"application/octet-stream",
            b"application/zip",
            b"application/gzip",
            b"font/woff2",
            b"text",
            b"",
            b"json",
            b"application/jsonx",
        ] {
            assert!(!compressible(no), "{no:?}");
        }
        assert!(!Types::Default.matches(None));
    }

    #[test]
    fn app_patterns() {
        let t = Types::only(["text/*", "application/json", "*/*+xml"]);
        assert!(t.matches(Some(b"text/plain; charset=utf-8")));
        assert!(t.matches(Some(b"Application/JSON")));
        assert!(t.matches(Some(b"image/svg+xml")));
        assert!(!t.matches(Some(b"textual/x")));
        assert!(!t.matches(Some(b"text")));
        assert!(!t.matches(Some(b"application/ld+json")));
        assert!(!t.matches(Some(b"application/javascript")));
        assert!(!t.matches(None));
        let none = Types::only(Vec::<String>::new());
        assert!(!none.matches(Some(b"text/plain")));
    }
}
