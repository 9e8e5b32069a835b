//! Redirect URIs: which a client may register, and whether the one in a
//! request is one of them. Matches are exact, but for loopback `http`
//! redirect URIs of native apps, whose port is chosen at run time
//! (RFC 8252, section 7.3): there any port matches.

use url::Url;

/// Whether a client may register `uri`: `https`, `http` on a loopback
/// address, or an app's private-use scheme (`com.example.app:/callback`);
/// never a fragment, nor a scheme that runs or reads something.
pub fn registrable(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(&url),
        "javascript" | "data" | "file" | "blob" | "about" | "vbscript" | "ftp" | "ws" | "wss" => {
            false
        }
        _ => true,
    }
}

/// What [`registrable_list`] asks, said to the client or person.
pub const REGISTRABLE_RULE: &str = "redirect_uris must list 1 to 10 URIs, each https, http on a loopback address, or an app's own scheme, without a fragment.";

/// A client's `redirect_uris` (registered, or in its metadata document):
/// 1 to 10 strings, each [`registrable`].
pub fn registrable_list(uris: &serde_json::Value) -> Option<Vec<String>> {
    let uris = uris
        .as_array()?
        .iter()
        .map(|u| u.as_str().filter(|u| registrable(u)).map(str::to_owned))
        .collect::<Option<Vec<String>>>()?;
    (1..=10).contains(&uris.len()).then_some(uris)
}

/// Whether `presented` is `registered`.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(registered), Ok(presented)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    registered.scheme() == "http"
        && presented.scheme() == "http"
        && is_loopback(&registered)
        && registered.host() == presented.host()
        && registered.path() == presented.path()
        && registered.query() == presented.query()
        && presented.fragment().is_none()
        && presented.username().is_empty()
        && presented.password().is_none()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_except_the_port_of_loopback_uris() {
        let web = "https://app.example.com/callback";
        assert!(matches(web, web));
        assert!(!matches(web, "https://app.example.com/callback/"));
        assert!(!matches(web, "https://app.example.com:444/callback"));
        assert!(!matches(web, "https://evil.example.com/callback"));
        let native = "http://127.0.0.1/callback";
        assert!(matches(native, "http://127.0.0.1:51234/callback"));
        assert!(matches("http://[::1]:1/cb", "http://[::1]:9/cb"));
        assert!(!matches(native, "http://127.0.0.1:51234/other"));
        assert!(!matches(native, "http://localhost:51234/callback"));
        assert!(!matches(native, "http://127.0.0.1:1/callback?x=1"));
    }

    #[test]
    fn only_safe_redirect_uris_register() {
        assert!(registrable("https://claude.ai/api/mcp/auth_callback"));
        assert!(registrable("http://127.0.0.1:33418/callback"));
        assert!(registrable("http://localhost/callback"));
        assert!(registrable(
            "cursor://anysphere.cursor-retrieval/oauth/callback"
        ));
        assert!(!registrable("http://app.example.com/callback"));
        assert!(!registrable("https://app.example.com/cb#x"));
        assert!(!registrable("javascript:alert(1)"));
        assert!(!registrable("not a url"));
    }
}
