//! Huawei Cloud `SDK-HMAC-SHA256` request signing (AK/SK), as the official SDKs do it.
//!
//! Pure functions, no I/O and no clock: the caller supplies the `X-Sdk-Date` value (see
//! [`sdk_date`]) among the headers to sign. The exporter's client signs outgoing requests with
//! [`sign`]; the simulator recomputes the same signature to check the requests it receives.
//! The algorithm is the official SDKs' (`huaweicloudsdkcore/signer/signer.py`); the test
//! vectors are the Go SDK's own and two computed for CodeArts requests. The conformance suite
//! (`tests/conformance/`) re-signs the exporter's requests with the SDK's signer.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name that opens the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Everything a signature was computed from, plus the header to send.
///
/// The intermediate strings are kept because the gateway echoes its own canonical request on a
/// mismatch; comparing the two is the fastest way to find a signing bug. `authorization` and
/// `signature` are credentials and must never be logged; so is the canonical request's
/// `x-security-token` line with temporary credentials, which `Debug` redacts.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The full `Authorization` header value.
    pub authorization: String,
    /// Step 6: method, URI, query, headers, signed header names and body hash, joined by `\n`.
    pub canonical_request: String,
    /// Step 8: algorithm, `X-Sdk-Date` value and the hex SHA-256 of the canonical request.
    pub string_to_sign: String,
    /// Step 9: lowercase hex HMAC-SHA256 of the string to sign, keyed with the secret key.
    pub signature: String,
    /// Step 4: the lowercase names of the signed headers, sorted, joined by `;`.
    pub signed_headers: String,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("authorization", &"<redacted>")
            .field(
                "canonical_request",
                &redact_security_token(&self.canonical_request),
            )
            .field("string_to_sign", &self.string_to_sign)
            .field("signature", &"<redacted>")
            .field("signed_headers", &self.signed_headers)
            .finish()
    }
}

/// `canonical` with the value of its `x-security-token:` line (a temporary credential) replaced.
fn redact_security_token(canonical: &str) -> String {
    canonical
        .split('\n')
        .map(|line| match line.strip_prefix("x-security-token:") {
            Some(_) => "x-security-token:<redacted>",
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `YYYYMMDDTHHMMSSZ` in UTC, the `X-Sdk-Date` value.
pub fn sdk_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Step 7: percent-encodes every byte of `s` except `A-Z a-z 0-9 - _ . ~`, with uppercase hex.
///
/// A space becomes `%20` (never `+`) and non-ASCII characters are encoded byte by byte in UTF-8.
pub fn escape(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

/// Step 2: the canonical form of a decoded request path.
///
/// Each `/`-separated segment is escaped with [`escape`], and a trailing `/` is appended when the
/// result does not end in one: `/v4/user/repositories` signs as `/v4/user/repositories/` although
/// the request on the wire keeps no trailing slash.
pub fn canonical_uri(path: &str) -> String {
    canonical_uri_from_segments(path.split('/').map(str::as_bytes))
}

/// Step 3: the canonical query string of `url`.
///
/// The URL's query pairs are decoded, re-escaped with [`escape`], sorted by key and then by value
/// (a repeated key gives one pair per value) and joined with `&`. No query gives `""`.
pub fn canonical_query(url: &url::Url) -> String {
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", escape(key), escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs one request.
///
/// `headers` are the headers that take part in the signature, exactly as they will be sent
/// (typically `host`, `x-sdk-date`, and `x-project-id` when set); names may have any case and
/// order, they are lowercased and sorted here, and a name given twice has its values joined with
/// `,`. The `x-sdk-date` value is the signing time; without one the time part of the string to
/// sign is empty and the gateway will refuse the request. `body` is the exact bytes sent.
pub fn sign(
    method: &str,
    url: &url::Url,
    headers: &[(&str, &str)],
    body: &[u8],
    access_key: &str,
    secret_key: &[u8],
) -> SignedRequest {
    let headers = normalized_headers(headers);
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri_of(url),
        canonical_query(url),
        canonical_headers,
        signed_headers,
        hex::encode(Sha256::digest(body)),
    );
    let date = headers
        .iter()
        .find(|(name, _)| name == "x-sdk-date")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = hmac_sha256_hex(secret_key, string_to_sign.as_bytes());
    let authorization = format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    SignedRequest {
        authorization,
        canonical_request,
        string_to_sign,
        signature,
        signed_headers,
    }
}

fn escape_bytes(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

fn canonical_uri_from_segments<'a>(segments: impl Iterator<Item = &'a [u8]>) -> String {
    let mut uri = segments.map(escape_bytes).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// [`canonical_uri`] of a URL, whose path the URL crate keeps percent-encoded.
///
/// The SDK escapes the decoded path, so each segment is decoded first to avoid encoding twice.
/// Splitting on `/` before decoding keeps an encoded `%2F` inside its segment.
fn canonical_uri_of(url: &url::Url) -> String {
    let segments: Vec<Vec<u8>> = url.path().split('/').map(percent_decode).collect();
    canonical_uri_from_segments(segments.iter().map(Vec::as_slice))
}

/// Decodes `%XY` sequences of one path segment; a `%` not followed by two hex digits stays as is.
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)),
            _ => None,
        };
        match decoded {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// Lowercases names, trims values, sorts by name and merges repeated names.
fn normalized_headers(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut sorted: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(String, String)> = Vec::with_capacity(sorted.len());
    for (name, value) in sorted {
        match merged.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => merged.push((name, value.to_owned())),
        }
    }
    merged
}

fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length (longer ones are hashed first): this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of every length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_the_signature_nor_a_security_token() {
        let url = url::Url::parse("https://example.huaweicloud.com/path").unwrap();
        let signed = super::sign(
            "GET",
            &url,
            &[
                ("x-sdk-date", "20060102T150405Z"),
                ("x-security-token", "sts-s3cret"),
            ],
            b"",
            "AccessKey",
            b"SecretKey",
        );
        let debug = format!("{signed:?}");
        assert!(!debug.contains("sts-s3cret"), "{debug}");
        assert!(!debug.contains(&signed.signature), "{debug}");
        assert!(debug.contains("x-security-token:<redacted>"), "{debug}");
        assert!(debug.contains("x-sdk-date:20060102T150405Z"), "{debug}");
    }

    use super::*;
    use proptest::prelude::*;

    const EMPTY_BODY_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const CODEHUB: &str = "codehub-ext.cn-north-4.myhuaweicloud.com";

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    fn hash_part(signed: &SignedRequest) -> &str {
        signed.string_to_sign.rsplit('\n').next().unwrap()
    }

    #[test]
    fn sdk_date_is_compact_utc() {
        let t = time::macros::datetime!(2025-06-04 16:14:29.765 +08:00);
        assert_eq!(sdk_date(t), "20250604T081429Z");
    }

    #[test]
    fn sdk_t1_get_with_query_and_no_body() {
        let signed = sign(
            "GET",
            &url("https://example.huaweicloud.com/path?limit=1"),
            &[("X-Sdk-Date", "20060102T150405Z")],
            b"",
            "AccessKey",
            b"SecretKey",
        );
        assert_eq!(
            signed.canonical_request,
            format!("GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n{EMPTY_BODY_SHA256}")
        );
        assert_eq!(
            hash_part(&signed),
            "85c3b7730f308aee452b16138a42a914397e43a8f0d732dfa521c0ef2afa98a4"
        );
        assert_eq!(
            signed.string_to_sign,
            "SDK-HMAC-SHA256\n20060102T150405Z\n85c3b7730f308aee452b16138a42a914397e43a8f0d732dfa521c0ef2afa98a4"
        );
        assert_eq!(
            signed.signature,
            "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
        );
        assert_eq!(
            signed.authorization,
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
             Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
        );
    }

    #[test]
    fn sdk_t2_post_hashes_the_exact_body_bytes_including_the_trailing_newline() {
        let body = b"{\"Name\":\"test\",\"Id\":1}\n";
        let signed = sign(
            "POST",
            &url("https://example.huaweicloud.com/path?key=value"),
            &[("X-Sdk-Date", "20060102T150405Z")],
            body,
            "AccessKey",
            b"SecretKey",
        );
        let body_hash = hex::encode(Sha256::digest(body));
        assert_eq!(
            signed.canonical_request,
            format!(
                "POST\n/path/\nkey=value\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n{body_hash}"
            )
        );
        assert_eq!(
            hash_part(&signed),
            hex::encode(Sha256::digest(signed.canonical_request.as_bytes()))
        );
        assert_eq!(
            signed.signature,
            "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
        );
        assert_eq!(
            signed.authorization,
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
             Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
        );
    }

    #[test]
    fn t3_statistics_status_signs_host_and_date() {
        let signed = sign(
            "GET",
            &url(&format!(
                "https://{CODEHUB}/v4/repositories/123456/repository/statistics-status"
            )),
            &[("X-Sdk-Date", "20250604T081429Z"), ("Host", CODEHUB)],
            b"",
            "AccessKey",
            b"SecretKey",
        );
        assert_eq!(
            signed.canonical_request,
            format!(
                "GET\n/v4/repositories/123456/repository/statistics-status/\n\n\
                 host:{CODEHUB}\nx-sdk-date:20250604T081429Z\n\nhost;x-sdk-date\n{EMPTY_BODY_SHA256}"
            )
        );
        assert_eq!(
            hash_part(&signed),
            hex::encode(Sha256::digest(signed.canonical_request.as_bytes()))
        );
        assert_eq!(signed.signed_headers, "host;x-sdk-date");
        assert_eq!(
            signed.signature,
            "2afa3dc211543eaf477cc2545792c13d6ec85b5da4c69834efb17d48dcb2f28a"
        );
        assert_eq!(
            signed.authorization,
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, \
             Signature=2afa3dc211543eaf477cc2545792c13d6ec85b5da4c69834efb17d48dcb2f28a"
        );
    }

    #[test]
    fn t4_repository_list_with_project_id_sorts_query_and_headers() {
        let signed = sign(
            "GET",
            &url(&format!(
                "https://{CODEHUB}/v4/user/repositories?offset=0&limit=100"
            )),
            &[
                ("host", CODEHUB),
                ("x-sdk-date", "20250604T081429Z"),
                ("X-Project-Id", "0123456789abcdef0123456789abcdef"),
            ],
            b"",
            "AccessKey",
            b"SecretKey",
        );
        assert_eq!(
            signed.canonical_request,
            format!(
                "GET\n/v4/user/repositories/\nlimit=100&offset=0\n\
                 host:{CODEHUB}\nx-project-id:0123456789abcdef0123456789abcdef\n\
                 x-sdk-date:20250604T081429Z\n\nhost;x-project-id;x-sdk-date\n{EMPTY_BODY_SHA256}"
            )
        );
        assert_eq!(
            hash_part(&signed),
            hex::encode(Sha256::digest(signed.canonical_request.as_bytes()))
        );
        assert_eq!(
            signed.signature,
            "58cc8ec66429163afb02d1f1160276570f646b59a70fff0112422127acbc9933"
        );
        assert_eq!(
            signed.authorization,
            "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-project-id;x-sdk-date, \
             Signature=58cc8ec66429163afb02d1f1160276570f646b59a70fff0112422127acbc9933"
        );
    }

    #[test]
    fn canonical_query_matches_the_published_escaping_vector() {
        let mut u = url("https://example.huaweicloud.com/path");
        u.query_pairs_mut()
            .append_pair("limit", "1")
            .append_pair("enable", "true")
            .append_pair("test", "一 (&=?!#%.*)")
            .append_pair("path", "/tmp/123")
            .append_pair("multi", "3")
            .append_pair("multi", "1")
            .append_pair("multi", "2");
        assert_eq!(
            canonical_query(&u),
            "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&\
             test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
        );
    }

    #[test]
    fn canonical_query_is_empty_without_a_query() {
        assert_eq!(canonical_query(&url("https://h/path")), "");
    }

    #[test]
    fn canonical_uri_appends_a_trailing_slash_only_when_missing() {
        assert_eq!(
            canonical_uri("/v4/user/repositories"),
            "/v4/user/repositories/"
        );
        assert_eq!(
            canonical_uri("/v4/user/repositories/"),
            "/v4/user/repositories/"
        );
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn canonical_uri_escapes_each_segment_but_keeps_the_slashes() {
        assert_eq!(canonical_uri("/a b/c+d/é"), "/a%20b/c%2Bd/%C3%A9/");
    }

    #[test]
    fn sign_decodes_the_url_path_before_escaping_it_once() {
        let signed = sign(
            "GET",
            &url("https://h/a%20b/%E4%B8%80/x%2Fy"),
            &[],
            b"",
            "ak",
            b"sk",
        );
        let uri = signed.canonical_request.lines().nth(1).unwrap();
        assert_eq!(uri, "/a%20b/%E4%B8%80/x%2Fy/");
    }

    #[test]
    fn escape_keeps_unreserved_characters() {
        assert_eq!(escape("AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn escape_writes_space_as_percent_20_and_utf8_bytewise_in_uppercase_hex() {
        assert_eq!(escape("a b"), "a%20b");
        assert_eq!(escape("+/?"), "%2B%2F%3F");
        assert_eq!(escape("一"), "%E4%B8%80");
        assert_eq!(escape("ü"), "%C3%BC");
    }

    #[test]
    fn header_names_are_lowercased_sorted_and_values_trimmed() {
        let signed = sign(
            "get",
            &url("https://h/p"),
            &[("X-Sdk-Date", " 20060102T150405Z "), ("Host", "h")],
            b"",
            "ak",
            b"sk",
        );
        assert_eq!(signed.signed_headers, "host;x-sdk-date");
        assert!(signed
            .canonical_request
            .starts_with("GET\n/p/\n\nhost:h\nx-sdk-date:20060102T150405Z\n\n"));
    }

    proptest! {
        #[test]
        fn arbitrary_paths_and_queries_never_panic_and_sign_deterministically(
            path in "\\PC*",
            key in "\\PC*",
            value in "\\PC*",
            raw_query in "\\PC*",
            secret in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let _ = canonical_uri(&path);
            let _ = escape(&path);
            let mut u = url("https://example.huaweicloud.com/");
            u.set_path(&path);
            u.set_query(Some(&raw_query));
            u.query_pairs_mut().append_pair(&key, &value);
            let headers = [("host", "example.huaweicloud.com"), ("x-sdk-date", "20060102T150405Z")];
            let first = sign("GET", &u, &headers, raw_query.as_bytes(), "ak", &secret);
            let second = sign("GET", &u, &headers, raw_query.as_bytes(), "ak", &secret);
            prop_assert_eq!(&first, &second);
            prop_assert_eq!(first.signature.len(), 64);
            prop_assert!(first.canonical_request.split('\n').nth(1).is_some_and(|uri| uri.ends_with('/')));
        }
    }
}
