//! The web UI: one HTML page with its style and scripts inlined, so the same page works served
//! and as a file opened with no network. The scripts are plain files concatenated in order (no
//! build step): the pure modules first (`format`, `layout`, `search`, `mapLayout`: unit-tested
//! by `node --test viewer/ui/tests`), then `app.js`, which draws.

const HTML: &str = include_str!("../ui/index.html");
const CSS: &str = include_str!("../ui/style.css");
const SCRIPTS: [&str; 5] = [
    include_str!("../ui/format.js"),
    include_str!("../ui/layout.js"),
    include_str!("../ui/search.js"),
    include_str!("../ui/mapLayout.js"),
    include_str!("../ui/app.js"),
];

/// The page. `data` (a JSON document) makes it a report that needs no server; without it the
/// page asks the server it came from.
pub(crate) fn page(data: Option<&str>) -> String {
    // Data as JSON in a `<script type="application/json">`, read with `JSON.parse`: never
    // evaluated as code, and `__proto__` stays a plain key. `<` is escaped (valid inside JSON
    // strings, and the only character that could end the element).
    let data = data.map_or_else(|| "null".to_owned(), |d| d.replace('<', "\\u003c"));
    let scripts = SCRIPTS.join("\n");
    // The data last: nothing it holds is searched for markers afterwards.
    HTML.replacen("/*STYLE*/", CSS, 1)
        .replacen("/*SCRIPT*/", &scripts, 1)
        .replacen("/*DATA*/", &data, 1)
}
