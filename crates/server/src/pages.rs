//! The few HTML pages a person reaches from a mailed link (verification,
//! unsubscribe). Plain, self-contained, no scripts.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and attribute values.
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

/// A page with a title and already-escaped HTML content.
pub fn page(status: StatusCode, title: &str, content_html: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — Coffer</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;\
         padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.5rem 1rem}}</style>\
         </head><body><h1>{title}</h1>{content_html}</body></html>\n",
        title = escape(title)
    );
    let mut response = Html(html).into_response();
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
