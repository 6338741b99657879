//! Reading `Accept-Encoding` (RFC 9110 §12.5.3): q-values, `*`, `identity;q=0`. Allocation-free,
//! since it runs on every request a compressing route answers, cached hits included.

use super::Coding;

/// q-values in thousandths (`q=0.5` → 500), the precision RFC 9110 §12.4.2 allows.
type Weight = u16;
const FULL: Weight = 1000;

/// The best coding among `enabled` (in server preference order) for this header. A coding is
/// acceptable when listed, or covered by `*`, with q > 0; the highest q wins and ties go to the
/// server's order. Identity wins only when the client ranks it strictly above every acceptable
/// coding (`gzip;q=0.5, identity` → identity); when unlisted it is the fallback, never a rival.
/// No header, an empty one, or no acceptable coding → `Identity` (even after `identity;q=0`: an
/// unencoded answer beats a 406 for every client we know, as nginx and Express do).
pub fn negotiate(enabled: &[Coding], accept_encoding: Option<&[u8]>) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    // Explicit weights by `Coding::index`, and the one `*` gives the rest.
    let mut listed: [Option<Weight>; 4] = [None; 4];
    let mut star: Option<Weight> = None;
    for entry in header.split(|&b| b == b',') {
        let mut parts = entry.split(|&b| b == b';');
        let token = parts.next().unwrap_or_default().trim_ascii();
        if token.is_empty() {
            continue;
        }
        let Some(weight) = weight(parts) else {
            continue;
        };
        let slot = if token == b"*" {
            &mut star
        } else if let Some(c) = Coding::from_token(token) {
            &mut listed[c.index()]
        } else {
            continue;
        };
        // A coding listed twice keeps its best weight.
        *slot = Some(slot.map_or(weight, |w| w.max(weight)));
    }
    let mut best = (Coding::Identity, 0);
    for &c in enabled {
        let w = listed[c.index()].or(star).unwrap_or(0);
        if w > best.1 {
            best = (c, w);
        }
    }
    let identity = listed[Coding::Identity.index()].or(star);
    match identity {
        Some(w) if w > best.1 => Coding::Identity,
        _ => best.0,
    }
}

/// The q of one entry from its parameters (`;q=0.8`); `None` when a q is malformed, which drops
/// the entry (it was not clearly accepted). Other parameters are ignored.
fn weight<'a>(params: impl Iterator<Item = &'a [u8]>) -> Option<Weight> {
    let mut weight = FULL;
    for param in params {
        let param = param.trim_ascii();
        let Some(eq) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (param[..eq].trim_ascii(), param[eq + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"q") {
            weight = qvalue(value)?;
        }
    }
    Some(weight)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn qvalue(v: &[u8]) -> Option<Weight> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Weight = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| Weight::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(FULL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    const ALL: [Coding; 3] = Coding::COMPRESSED;

    fn n(h: &str) -> Coding {
        negotiate(&ALL, Some(h.as_bytes()))
    }

    #[test]
    fn absent_or_empty_header_is_identity() {
        assert_eq!(negotiate(&ALL, None), Identity);
        assert_eq!(n(""), Identity);
        assert_eq!(n(" , ,"), Identity);
        assert_eq!(n("deflate, compress"), Identity);
    }

    #[test]
    fn server_order_breaks_ties() {
        assert_eq!(n("gzip, deflate, br, zstd"), Brotli);
        assert_eq!(n("gzip, zstd"), Zstd);
        assert_eq!(n("gzip"), Gzip);
        assert_eq!(n("x-gzip"), Gzip);
        assert_eq!(n("GZIP, BR"), Brotli);
        assert_eq!(negotiate(&[Gzip, Brotli], Some(b"br, gzip")), Gzip);
        assert_eq!(negotiate(&[Gzip], Some(b"br, zstd")), Identity);
        assert_eq!(negotiate(&[], Some(b"br, gzip")), Identity);
    }

    #[test]
    fn q_values_rank_and_zero_refuses() {
        assert_eq!(n("br;q=0.5, gzip;q=0.9"), Gzip);
        assert_eq!(n("br;q=0.5, gzip ; q=0.9 , zstd;q=0.91"), Zstd);
        assert_eq!(n("br;q=0, gzip;q=0.001"), Gzip);
        assert_eq!(n("br;q=0, gzip;q=0, zstd;q=0"), Identity);
        assert_eq!(n("br;Q=1.000, gzip;q=1"), Brotli);
        // Repeated: the best weight counts.
        assert_eq!(n("br;q=0, gzip;q=0.5, br;q=0.8"), Brotli);
    }

    #[test]
    fn malformed_q_drops_the_entry() {
        assert_eq!(n("br;q=2, gzip"), Gzip);
        assert_eq!(n("br;q=abc, gzip;q=0.1"), Gzip);
        assert_eq!(n("br;q=0.0001, gzip;q=0.1"), Gzip);
        assert_eq!(n("br;q=, gzip;q=0.1"), Gzip);
        assert_eq!(n("br;q=1.5"), Identity);
        assert_eq!(n("br;level=3"), Brotli);
    }

    #[test]
    fn star_covers_unlisted_codings() {
        assert_eq!(n("*"), Brotli);
        assert_eq!(n("br;q=0, *"), Zstd);
        assert_eq!(n("gzip, *;q=0"), Gzip);
        assert_eq!(n("*;q=0"), Identity);
        assert_eq!(n("gzip;q=0.5, *;q=0.8"), Brotli);
    }

    #[test]
    fn identity_ranked_above_every_coding_wins() {
        assert_eq!(n("gzip;q=0.5, identity"), Identity);
        assert_eq!(n("gzip;q=0.5, identity;q=0.5"), Gzip);
        assert_eq!(n("gzip;q=0.5"), Gzip);
        assert_eq!(n("identity;q=0, gzip;q=0.2"), Gzip);
        assert_eq!(n("identity;q=0"), Identity);
        assert_eq!(n("identity"), Identity);
        assert_eq!(n("*;q=1, gzip;q=0.5"), Brotli);
        assert_eq!(negotiate(&[Gzip], Some(b"*;q=1, gzip;q=0.5")), Identity);
    }
}
