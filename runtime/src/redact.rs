//! What of a URL may reach a span: traces leave the host, and URLs carry secrets — signed-URL
//! signatures, API keys, access tokens, `user:password@`. Every integration that records a URL
//! (`url.full`, `url.query`) or an error text that may quote one goes through here, as the
//! semantic conventions ask: credentials become `REDACTED:REDACTED`, and the values of sensitive
//! query parameters become `REDACTED`.
//!
//! ```
//! use traceweave::redact::UrlRedaction;
//!
//! let rules = UrlRedaction::new();
//! assert_eq!(
//!     rules.url("https://bob:pw@s3.example/b/k?X-Amz-Signature=abc&part=2"),
//!     "https://REDACTED:REDACTED@s3.example/b/k?X-Amz-Signature=REDACTED&part=2"
//! );
//! // Your own keys on top of the defaults, or the query as it is.
//! let rules = UrlRedaction::new().redact_key("session");
//! assert_eq!(rules.query("session=s3cret&page=2"), "session=REDACTED&page=2");
//! assert_eq!(UrlRedaction::new().record_full_query(true).query("token=t"), "token=t");
//! ```

use std::borrow::Cow;
use std::sync::Arc;

/// What replaces a secret.
///
/// ```
/// use traceweave::redact::{REDACTED, UrlRedaction};
/// let url = UrlRedaction::new().url("https://api.example/v1?token=t0p");
/// assert_eq!(url, format!("https://api.example/v1?token={REDACTED}"));
/// ```
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose values never reach a span unless asked ([`UrlRedaction`]'s defaults,
/// compared without regard to case): the semantic conventions' list (`AWSAccessKeyId`,
/// `Signature`, `sig`, `X-Goog-Signature`), the other signed-URL parameters of S3 and GCS, and
/// the usual names of tokens, keys and passwords.
///
/// ```
/// use traceweave::redact::SENSITIVE_QUERY_KEYS;
/// assert!(SENSITIVE_QUERY_KEYS.contains(&"X-Amz-Signature"));
/// ```
pub const SENSITIVE_QUERY_KEYS: &[&str] = &[
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "apikey",
    "password",
    "passwd",
    "secret",
];

/// Which parts of a URL's query keep their values in spans: by default every value is kept but
/// those of [`SENSITIVE_QUERY_KEYS`]; [`redact_key`](Self::redact_key) adds keys,
/// [`record_full_query`](Self::record_full_query) keeps the query as it is. Credentials in the
/// authority are always redacted. Cheap to clone (layers clone it per service).
#[derive(Clone, Debug, Default)]
///
/// ```
/// use traceweave::redact::UrlRedaction;
/// let redaction = UrlRedaction::new().redact_key("session");
/// assert_eq!(
///     redaction.url("https://user:pw@cdn.example/a.png?X-Amz-Signature=abc&session=s1&w=64"),
///     "https://REDACTED:REDACTED@cdn.example/a.png?X-Amz-Signature=REDACTED&session=REDACTED&w=64"
/// );
/// ```
pub struct UrlRedaction {
    extra: Arc<[Box<str>]>,
    full_query: bool,
}

impl UrlRedaction {
    /// The defaults: the values of [`SENSITIVE_QUERY_KEYS`] redacted.
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// let redaction = UrlRedaction::new();
    /// assert_eq!(redaction.url("https://x.example/?page=2&api_key=k"), "https://x.example/?page=2&api_key=REDACTED");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Redacts the value of `key` too (compared without regard to case).
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// let redaction = UrlRedaction::new().redact_key("Session");
    /// assert_eq!(redaction.url("/cart?session=s1"), "/cart?session=REDACTED");
    /// ```
    pub fn redact_key(mut self, key: impl Into<String>) -> Self {
        let mut keys: Vec<Box<str>> = self.extra.iter().cloned().collect();
        keys.push(key.into().into_boxed_str());
        self.extra = keys.into();
        self
    }

    /// Keeps every query value as it is (`true`), or redacts the sensitive ones (`false`, the
    /// default). For a service whose URLs are known to carry no secret.
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// let redaction = UrlRedaction::new().record_full_query(true);
    /// assert_eq!(redaction.url("/search?q=tea&token=t"), "/search?q=tea&token=t");
    /// ```
    pub fn record_full_query(mut self, full: bool) -> Self {
        self.full_query = full;
        self
    }

    /// Whether the value of query parameter `key` is redacted.
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// let redaction = UrlRedaction::new();
    /// assert!(redaction.is_sensitive("access_token") && redaction.is_sensitive("SIG"));
    /// assert!(!redaction.is_sensitive("page"));
    /// ```
    pub fn is_sensitive(&self, key: &str) -> bool {
        !self.full_query
            && (SENSITIVE_QUERY_KEYS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
                || self.extra.iter().any(|k| k.eq_ignore_ascii_case(key)))
    }

    /// A query string (`a=1&b=2`, no `?`) with the sensitive values replaced by `REDACTED`.
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// assert_eq!(UrlRedaction::new().query("q=shoes&token=t0k3n"), "q=shoes&token=REDACTED");
    /// // Nothing to redact: the query is borrowed, not copied.
    /// assert!(matches!(UrlRedaction::new().query("q=shoes"), std::borrow::Cow::Borrowed(_)));
    /// ```
    pub fn query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        let sensitive = |pair: &str| {
            pair.split_once('=')
                .is_some_and(|(k, v)| !v.is_empty() && self.is_sensitive(k))
        };
        if !query.split('&').any(sensitive) {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _)) if sensitive(pair) => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
        Cow::Owned(out)
    }

    /// A URL with `user:password@` replaced by `REDACTED:REDACTED@` and the sensitive query
    /// values by `REDACTED`.
    ///
    /// ```
    /// use traceweave::redact::UrlRedaction;
    /// let signed = "https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Credential=AK&X-Amz-Signature=f00d";
    /// assert_eq!(
    ///     UrlRedaction::new().url(signed),
    ///     "https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
    /// );
    /// ```
    pub fn url<'a>(&self, url: &'a str) -> Cow<'a, str> {
        let (before_query, query, fragment) = split_url(url);
        let authority_start = before_query.find("://").map_or(0, |i| i + 3);
        let authority_end = before_query[authority_start..]
            .find('/')
            .map_or(before_query.len(), |i| authority_start + i);
        let userinfo = before_query[authority_start..authority_end].rfind('@');
        let redacted_query = query.map(|q| self.query(q));
        let query_changed = matches!(redacted_query, Some(Cow::Owned(_)));
        if userinfo.is_none() && !query_changed {
            return Cow::Borrowed(url);
        }
        let mut out = String::with_capacity(url.len() + 16);
        match userinfo {
            Some(at) => {
                out.push_str(&before_query[..authority_start]);
                out.push_str("REDACTED:REDACTED");
                out.push_str(&before_query[authority_start + at..]);
            }
            None => out.push_str(before_query),
        }
        if let Some(q) = redacted_query {
            out.push('?');
            out.push_str(&q);
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        Cow::Owned(out)
    }
}

/// `(scheme://authority/path, query, fragment)`.
fn split_url(url: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    match rest.split_once('?') {
        Some((r, q)) => (r, Some(q), fragment),
        None => (rest, None, fragment),
    }
}

/// A text that may quote URLs (an HTTP client's error message) with each URL's query and
/// credentials removed: `error sending request for url (https://h/p?token=t)` becomes
/// `error sending request for url (https://h/p)`.
///
/// ```
/// assert_eq!(
///     traceweave::redact::strip_url_secrets("GET https://u:p@h/x?access_token=t failed"),
///     "GET https://h/x failed"
/// );
/// ```
///
/// ```
/// let error = "error sending request for url (https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc)";
/// let text = traceweave::redact::strip_url_secrets(error);
/// assert!(!text.contains("abc"), "{text}");
/// ```
pub fn strip_url_secrets(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let ends_url =
        |c: char| c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | '`');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let (head, tail) = rest.split_at(sep + 3);
        out.push_str(head);
        let end = tail.find(ends_url).unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        let (before_query, _, _) = split_url(url);
        let authority_end = before_query.find('/').unwrap_or(before_query.len());
        let start = before_query[..authority_end]
            .rfind('@')
            .map_or(0, |at| at + 1);
        out.push_str(&before_query[start..]);
        rest = after;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_key_is_redacted_whatever_its_case() {
        let rules = UrlRedaction::new();
        for key in SENSITIVE_QUERY_KEYS {
            for k in [key.to_string(), key.to_uppercase(), key.to_lowercase()] {
                let url = format!("https://h/p?a=1&{k}=s3cret&b=2");
                let out = rules.url(&url);
                assert_eq!(out, format!("https://h/p?a=1&{k}=REDACTED&b=2"));
            }
        }
    }

    #[test]
    fn what_holds_no_secret_is_kept_borrowed() {
        let rules = UrlRedaction::new();
        for url in [
            "https://h/p",
            "https://h/p?a=1&b",
            "http://h:80/p?token=",
            "https://h/p#frag",
        ] {
            assert!(matches!(rules.url(url), Cow::Borrowed(_)), "{url}");
        }
        assert!(matches!(strip_url_secrets("no url here"), Cow::Borrowed(_)));
    }

    #[test]
    fn credentials_keys_added_and_full_queries() {
        let rules = UrlRedaction::new();
        assert_eq!(
            rules.url("https://bob:s3cret@api.example:8443/pay?x=1#top"),
            "https://REDACTED:REDACTED@api.example:8443/pay?x=1#top"
        );
        assert_eq!(rules.url("https://h/a@b?x=1"), "https://h/a@b?x=1");
        let mine = UrlRedaction::new().redact_key("Session");
        assert_eq!(
            mine.query("session=1&sig=2"),
            "session=REDACTED&sig=REDACTED"
        );
        let full = UrlRedaction::new().record_full_query(true);
        assert_eq!(
            full.url("https://u:p@h/?sig=2"),
            "https://REDACTED:REDACTED@h/?sig=2"
        );
    }

    #[test]
    fn error_texts_lose_every_query_and_credential() {
        assert_eq!(
            strip_url_secrets(
                "error sending request for url (https://s3.example/k?X-Amz-Signature=abc&x=1): \
                 connect to http://a:b@h:1/x?token=t failed"
            ),
            "error sending request for url (https://s3.example/k): connect to http://h:1/x failed"
        );
        assert_eq!(strip_url_secrets("x://"), "x://");
    }
}
