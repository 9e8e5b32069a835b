//! The pages a person sees while signing in: the consent, and every error
//! worth telling them about. Plain HTML, no JavaScript, never framed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the consent page shows.
pub struct Consent<'a> {
    pub client: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub site: &'a str,
    pub person: &'a str,
    pub email: &'a str,
    /// The authorization this consent ends (the state sent upstream).
    pub request: &'a str,
    pub csrf: &'a str,
}

pub fn consent(consent: &Consent<'_>) -> Response {
    let body = format!(
        r#"<h1>Allow {client} to file Jira issues as you?</h1>
<p>You are signed in as <strong>{person}</strong> ({email}).</p>
<dl>
<dt>Application</dt><dd>{client} <small>({client_id})</small></dd>
<dt>It will be sent back to</dt><dd><code>{redirect}</code></dd>
<dt>Jira site</dt><dd>{site}</dd>
</dl>
<p>If you allow it, {client} can create Jira issues and read project details <strong>in your name</strong>: you will be the reporter of every issue it files. You can withdraw it at any time: ask whoever runs this jira-action service for your organisation.</p>
<form method="post" action="/oauth/consent">
<input type="hidden" name="request" value="{request}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>"#,
        client = escape(consent.client),
        client_id = escape(consent.client_id),
        redirect = escape(consent.redirect_uri),
        site = escape(consent.site),
        person = escape(consent.person),
        email = escape(consent.email),
        request = escape(consent.request),
        csrf = escape(consent.csrf),
    );
    page(StatusCode::OK, "Allow access to Jira", &body)
}

/// A page that says what went wrong and what to do.
pub fn problem(status: StatusCode, title: &str, explanation: &str) -> Response {
    let body = format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(explanation));
    page(status, title, &body)
}

/// A denied consent: nothing was granted; a link takes the person back to
/// the application, which learns of the refusal (`access_denied`).
pub fn denied(client: &str, back: &str) -> Response {
    let body = format!(
        "<h1>Access denied</h1>\n<p>You did not allow {client} to file Jira issues in your name. Nothing was shared with it.</p>\n<p><a href=\"{back}\">Return to {client}</a></p>",
        client = escape(client),
        back = escape(back),
    );
    page(StatusCode::OK, "Access denied", &body)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - jira-action</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
dt{{font-weight:600}}dd{{margin:0 0 .75rem 0}}button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}}</style>\
</head><body>\n{body}\n</body></html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No `form-action`: browsers apply it to the redirect after the form,
    // which goes to the client.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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
    fn markup_in_names_is_shown_not_run() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
