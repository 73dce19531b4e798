//! The GraphiQL page for browsers: exact versions of production builds, each pinned by a
//! Subresource Integrity hash, loaded from a configurable base URL (a public CDN by default, or a
//! self-hosted mirror of the same npm files), and served with a Content-Security-Policy that
//! allows nothing else.

use sha2::{Digest, Sha256};

/// One asset: its path under the base URL and its SRI hash (sha384 of the npm package's file).
struct Asset {
    path: &'static str,
    integrity: &'static str,
}

const REACT: Asset = Asset {
    path: "react@18.3.1/umd/react.production.min.js",
    integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
};
const REACT_DOM: Asset = Asset {
    path: "react-dom@18.3.1/umd/react-dom.production.min.js",
    integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
};
const GRAPHIQL_JS: Asset = Asset {
    path: "graphiql@3.9.0/graphiql.min.js",
    integrity: "sha384-8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qsPHazniBYvVjOO",
};
const GRAPHIQL_CSS: Asset = Asset {
    path: "graphiql@3.9.0/graphiql.min.css",
    integrity: "sha384-QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GYuqIlOqxhwCE2",
};

/// The script that starts GraphiQL against `/graphql` (queries over HTTP, subscriptions over
/// the WebSocket of the same origin).
const START: &str = "const url = new URL('/graphql', window.location.origin);\
const socket = new URL(url); socket.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';\
ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, {\
fetcher: GraphiQL.createFetcher({ url: url.toString(), subscriptionUrl: socket.toString() }),\
defaultEditorToolsVisibility: true }));";

/// The page and the Content-Security-Policy to send with it.
#[derive(Clone, Debug)]
pub struct GraphiqlPage {
    /// The HTML.
    pub html: String,
    /// The `Content-Security-Policy` header value.
    pub content_security_policy: String,
}

/// Builds the page with assets under `assets_base` (such as `https://unpkg.com`, or
/// `/static/npm` for a mirror served by the same origin).
pub fn page(assets_base: &str) -> GraphiqlPage {
    let base = assets_base.trim_end_matches('/');
    let url = |asset: &Asset| format!("{base}/{}", asset.path);
    let script = |asset: &Asset| {
        format!(r#"<script src="{}" integrity="{}" crossorigin="anonymous"></script>"#, url(asset), asset.integrity)
    };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Aeternum GraphiQL</title>
<link rel="stylesheet" href="{css}" integrity="{css_integrity}" crossorigin="anonymous">
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading…</div>
{react}
{react_dom}
{graphiql}
<script>{START}</script>
</body>
</html>
"#,
        css = url(&GRAPHIQL_CSS),
        css_integrity = GRAPHIQL_CSS.integrity,
        react = script(&REACT),
        react_dom = script(&REACT_DOM),
        graphiql = script(&GRAPHIQL_JS),
    );
    let origin = origin_of(base);
    let inline_script = inline_hash(START);
    // GraphiQL's components set inline styles, so styles from the asset origin and inline ones
    // are allowed (a hash would switch inline style attributes off); scripts only from the
    // asset origin and the one inline starter, by hash.
    let content_security_policy = format!(
        "default-src 'none'; script-src {origin} '{inline_script}'; style-src {origin} 'unsafe-inline'; \
         img-src 'self' data: {origin}; font-src {origin} data:; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    GraphiqlPage { html, content_security_policy }
}

/// The CSP source for a base URL: its origin, or `'self'` for a path on this server.
fn origin_of(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()),
        None => "'self'".to_owned(),
    }
}

fn inline_hash(text: &str) -> String {
    use base64::Engine;
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_production_builds_with_integrity_and_a_strict_policy() {
        let page = page("https://unpkg.com/");
        assert!(page.html.contains(r#"src="https://unpkg.com/react@18.3.1/umd/react.production.min.js""#));
        assert_eq!(page.html.matches("integrity=\"sha384-").count(), 4);
        assert!(!page.html.contains("development"));
        assert!(page.content_security_policy.starts_with("default-src 'none'; script-src https://unpkg.com 'sha256-"));
        let mirror = super::page("/static/npm");
        assert!(mirror.html.contains(r#"src="/static/npm/graphiql@3.9.0/graphiql.min.js""#));
        assert!(mirror.content_security_policy.contains("script-src 'self' 'sha256-"));
    }
}
