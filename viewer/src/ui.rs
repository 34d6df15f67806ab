//! The web UI: one HTML page with its style and script inlined, so the same page works served
//! and as a file opened with no network.

const HTML: &str = include_str!("../ui/index.html");
const CSS: &str = include_str!("../ui/style.css");
const JS: &str = include_str!("../ui/app.js");

/// The page. `data` (a JSON document) makes it a report that needs no server; without it the
/// page asks the server it came from.
pub(crate) fn page(data: Option<&str>) -> String {
    let data = data.map_or_else(
        || "null".to_owned(),
        // Inside <script>, "</" would end the element early; "<\/" means the same in JSON.
        |d| d.replace("</", "<\\/").replace("<!--", "<\\!--"),
    );
    let script = format!("window.TW_DATA = {data};\n{JS}");
    HTML.replacen("/*STYLE*/", CSS, 1)
        .replacen("/*SCRIPT*/", &script, 1)
}
