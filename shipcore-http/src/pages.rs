//! Server-rendered HTML (minijinja, every value escaped): the build
//! project configuration page of seed 002 (`/view/config/independent`).

use minijinja::{context, Environment};
use shipcore::build::{BuildProject, BuildRecord, Plugins};

const CONFIG: &str = r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ p.name }}: build configuration</title></head>
<body>
<h1>{{ p.name }}</h1>
<table>
<tr><th>Cluster</th><td>{{ p.cluster }}</td></tr>
<tr><th>DefineDockerFileType</th><td>{{ p.define_dockerfile_type }}</td></tr>
<tr><th>creator</th><td>{{ p.creator }}</td></tr>
<tr><th>createTime</th><td>{{ p.create_time }}</td></tr>
<tr><th>lastModifyTime</th><td>{{ p.last_modify_time }}</td></tr>
<tr><th>lastModifyOperator</th><td>{{ p.last_modify_operator }}</td></tr>
</table>
<h2>Dockerfile</h2>
<pre>{{ p.dockerfile }}</pre>
<h2>Context files</h2>
<ul>{% for f in files %}<li>{{ f }}</li>{% else %}<li>none</li>{% endfor %}</ul>
<h2>Plugins</h2>
<ul>{% for r in p.plugins %}<li>{{ r.name }}{% if r.name in described %}: {{ described[r.name] }}{% endif %}{% for k, v in r.params|items %} <code>{{ k }}={{ v }}</code>{% endfor %}</li>{% else %}<li>none</li>{% endfor %}</ul>
<p>Available: {% for name, text in described|items %}<code>{{ name }}</code> ({{ text }}){% if not loop.last %}, {% endif %}{% endfor %}</p>
<h2>Builds</h2>
<table>
<tr><th>id</th><th>tag</th><th>status</th><th>operator</th><th>engine</th><th>digest</th></tr>
{% for b in history %}<tr><td>{{ b.id }}</td><td>{{ b.tag }}</td><td>{{ b.status }}</td><td>{{ b.operator }}</td><td>{{ b.engine or "" }}</td><td>{{ b.digest or "" }}</td></tr>
{% endfor %}</table>
</body>
</html>
"#;

/// The configuration page of project `p`, with its latest builds.
pub fn config_page(
    p: &BuildProject,
    history: &[BuildRecord],
    plugins: &Plugins,
) -> Result<String, crate::error::Error> {
    let render = |source| crate::error::Error::Render { source };
    let mut env = Environment::new();
    // A name ending in .html: every value is HTML-escaped.
    env.add_template("config.html", CONFIG).map_err(render)?;
    let described: std::collections::BTreeMap<&str, &str> = plugins
        .names()
        .into_iter()
        .filter_map(|n| plugins.get(n).ok().map(|p| (n, p.describe())))
        .collect();
    let files: Vec<&String> = p.files.keys().collect();
    let recent: Vec<&BuildRecord> = history.iter().take(20).collect();
    env.get_template("config.html")
        .and_then(|t| t.render(context! { p, files, history => recent, described }))
        .map_err(render)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped() {
        let p = BuildProject {
            name: "web".into(),
            dockerfile: "FROM a:1\nLABEL x=\"<script>alert(1)</script>\"\n".into(),
            cluster: "default_cluster".into(),
            last_modify_operator: "<img src=x onerror=alert(1)>".into(),
            files: [("a<b>.txt".to_string(), String::new())].into(),
            ..BuildProject::default()
        };
        let html = config_page(&p, &[], &Plugins::builtin()).unwrap_or_default();
        assert!(html.contains("<h1>web</h1>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("a&lt;b&gt;.txt"), "{html}");
        assert!(html.contains("dockerfile-lint"), "{html}");
    }
}
