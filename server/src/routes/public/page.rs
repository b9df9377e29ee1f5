//! The public page's HTML, drawn on the server: it reads without script,
//! prints, and its charts are plain SVG bars (sized by attributes, since
//! the content security policy allows no inline style).

use std::fmt::Write;

use super::{Counts, Figures};
use crate::dashboard::{Lang, escape};

/// The page's words in one language.
struct Text {
    title: &'static str,
    intro: &'static str,
    as_of: &'static str,
    total: &'static str,
    streets: &'static str,
    communities: &'static str,
    collected: &'static str,
    reviewed: &'static str,
    fulfilled: &'static str,
    confirmed: &'static str,
    satisfaction: &'static str,
    of5: &'static str,
    median: &'static str,
    days: &'static str,
    none: &'static str,
    share: &'static str,
    copy: &'static str,
    copied: &'static str,
    copy_failed: &'static str,
    print: &'static str,
    tools: &'static str,
    foot: &'static str,
}

fn text(lang: Lang) -> Text {
    match lang {
        Lang::Zh => Text {
            title: "微心愿公开数据",
            intro: "入户走访收集的微心愿，从收集、审核到点亮和居民确认的汇总数字。这里只有总数，没有任何居民、工作人员或设备的信息。",
            as_of: "数据截至",
            total: "合计",
            streets: "各街道",
            communities: "各社区",
            collected: "收集",
            reviewed: "已审核",
            fulfilled: "已点亮",
            confirmed: "居民确认",
            satisfaction: "满意度",
            of5: "满分 5 分",
            median: "点亮用时中位数",
            days: "天",
            none: "暂无数据",
            share: "分享链接",
            copy: "复制链接",
            copied: "链接已复制",
            copy_failed: "无法自动复制，请手动复制上面的链接",
            print: "打印",
            tools: "页面工具",
            foot: "数字每分钟更新。满意度为居民确认时所打分数（1–5 分）的平均值。",
        },
        Lang::En => Text {
            title: "Wish cards: public figures",
            intro: "The wishes collected on door-to-door visits, from collection and review to lighting up and the resident's confirmation, in totals. Nothing here is about any resident, worker or device.",
            as_of: "As of",
            total: "Total",
            streets: "By street",
            communities: "By community",
            collected: "Collected",
            reviewed: "Reviewed",
            fulfilled: "Lit up",
            confirmed: "Confirmed",
            satisfaction: "Satisfaction",
            of5: "out of 5",
            median: "Median days to light up",
            days: "days",
            none: "No data yet",
            share: "Link to this page",
            copy: "Copy link",
            copied: "Link copied",
            copy_failed: "Could not copy: please copy the link above by hand",
            print: "Print",
            tools: "Page tools",
            foot: "The figures are updated every minute. Satisfaction is the average of the residents' ratings (1–5) when they confirmed.",
        },
    }
}

/// `1234` → `1,234`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn one_decimal(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

/// The four counts of a scope as bars, each `value / max` of the width.
fn bars(out: &mut String, f: &Figures, max: u64, t: &Text) {
    let rows = [
        ("collected", t.collected, f.collected, "s0"),
        ("reviewed", t.reviewed, f.reviewed, "s1"),
        ("fulfilled", t.fulfilled, f.fulfilled, "s2"),
        ("confirmed", t.confirmed, f.confirmed, "s3"),
    ];
    out.push_str(r#"<dl class="figures">"#);
    for (key, name, value, class) in rows {
        let width = if max == 0 {
            0.0
        } else {
            value as f64 * 100.0 / max as f64
        };
        let _ = write!(
            out,
            r#"<div class="figure" data-figure="{key}"><dt>{name}</dt><dd class="meter-cell"><svg class="meter" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="track" width="100" height="10"/><rect class="bar {class}" width="{width:.2}" height="10"/></svg></dd><dd class="num">{value}</dd></div>"#,
            name = escape(name),
            value = count(value),
        );
    }
    out.push_str("</dl>");
}

/// Satisfaction and median days, under the bars.
fn more(out: &mut String, f: &Figures, t: &Text) {
    let _ = write!(
        out,
        r#"<p class="scope-more small"><span data-figure="satisfaction">{} <strong>{}</strong> <span class="muted">({})</span></span> · <span data-figure="median">{} <strong>{}</strong> {}</span></p>"#,
        escape(t.satisfaction),
        one_decimal(f.satisfaction),
        escape(t.of5),
        escape(t.median),
        one_decimal(f.median_days_to_fulfil),
        escape(t.days),
    );
}

/// One scope's card: its name, the bars, satisfaction and median days.
fn card(out: &mut String, f: &Figures, max: u64, t: &Text) {
    let _ = write!(
        out,
        r#"<article class="scope-card" data-scope="{}"><h3>{}</h3>"#,
        escape(&f.scope),
        escape(&f.label),
    );
    bars(out, f, max, t);
    more(out, f, t);
    out.push_str("</article>");
}

/// A section of cards (streets or communities), the bars on one scale.
fn section(out: &mut String, id: &str, heading: &str, list: &[Figures], t: &Text) {
    let _ = write!(
        out,
        r#"<section class="panel public-section" id="{id}" aria-labelledby="{id}-h"><h2 id="{id}-h">{}</h2>"#,
        escape(heading)
    );
    if list.is_empty() {
        let _ = write!(out, r#"<p class="empty">{}</p>"#, escape(t.none));
    } else {
        legend(out, t);
        let max = list
            .iter()
            .flat_map(|f| [f.collected, f.reviewed, f.fulfilled, f.confirmed])
            .max()
            .unwrap_or(0);
        out.push_str(r#"<div class="scope-cards">"#);
        for f in list {
            card(out, f, max, t);
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

fn legend(out: &mut String, t: &Text) {
    out.push_str(r#"<ul class="legend" aria-hidden="true">"#);
    for (class, name) in [
        ("s0", t.collected),
        ("s1", t.reviewed),
        ("s2", t.fulfilled),
        ("s3", t.confirmed),
    ] {
        let _ = write!(
            out,
            r#"<li><span class="swatch {class}"></span>{}</li>"#,
            escape(name)
        );
    }
    out.push_str("</ul>");
}

/// The totals as tiles, like the dashboard's statistics page.
fn tiles(out: &mut String, f: &Figures, t: &Text) {
    out.push_str(r#"<div class="kpis" id="totals">"#);
    let tile = |out: &mut String, key: &str, name: &str, value: String, note: &str| {
        let _ = write!(
            out,
            r#"<div class="kpi kpi-{key}" data-kpi="{key}"><p class="kpi-label">{}</p><p class="kpi-value">{value}</p>{}</div>"#,
            escape(name),
            if note.is_empty() {
                String::new()
            } else {
                format!(r#"<p class="kpi-note muted small">{}</p>"#, escape(note))
            }
        );
    };
    tile(out, "collected", t.collected, count(f.collected), "");
    tile(out, "reviewed", t.reviewed, count(f.reviewed), "");
    tile(out, "fulfilled", t.fulfilled, count(f.fulfilled), "");
    tile(out, "confirmed", t.confirmed, count(f.confirmed), "");
    tile(
        out,
        "satisfaction",
        t.satisfaction,
        one_decimal(f.satisfaction),
        t.of5,
    );
    tile(
        out,
        "median",
        t.median,
        one_decimal(f.median_days_to_fulfil),
        t.days,
    );
    out.push_str("</div>");
}

/// The whole page. `share` is the address to give others.
pub(super) fn render(counts: &Counts, lang: Lang, share: &str) -> String {
    let t = text(lang);
    let heading = if counts.total.label.is_empty() {
        t.title.to_owned()
    } else {
        format!("{} · {}", counts.total.label, t.title)
    };
    let switch = match lang.other() {
        Lang::Zh => "/public/?lang=zh",
        Lang::En => "/public/?lang=en",
    };
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>{heading}</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
<link rel="stylesheet" href="/public/page.css">
<script type="module" src="/public/page.js"></script>
</head>
<body class="public">
<header class="public-top">
<p class="brand"><img src="/assets/favicon.svg" alt="" width="28" height="28"><span class="brand-name">Doorstep</span></p>
<nav class="public-tools" aria-label="{tools}"><a class="lang" href="{switch}" lang="{other_lang}">{other_name}</a><button type="button" class="secondary small" id="print" hidden>{print}</button></nav>
</header>
<main id="main">
<h1>{heading}</h1>
<p class="as-of">{as_of} <time datetime="{generated}">{as_of_value}</time></p>
<p class="intro">{intro}</p>
<p class="share"><span class="share-label">{share_label}</span> <a id="share-link" href="{share}">{share}</a> <button type="button" class="secondary small" id="copy-link" data-copied="{copied}" data-failed="{copy_failed}" hidden>{copy}</button> <span id="copy-status" class="muted small" role="status"></span></p>
"#,
        html_lang = lang.html(),
        heading = escape(&heading),
        tools = escape(t.tools),
        switch = switch,
        other_lang = lang.other().html(),
        other_name = escape(lang.other().name()),
        print = escape(t.print),
        as_of = escape(t.as_of),
        generated = jiff::Timestamp::from_millisecond(counts.generated_at)
            .map(|at| at.to_string())
            .unwrap_or_default(),
        as_of_value = escape(&counts.as_of),
        intro = escape(t.intro),
        share_label = escape(t.share),
        share = escape(share),
        copied = escape(t.copied),
        copy_failed = escape(t.copy_failed),
        copy = escape(t.copy),
    );
    let _ = write!(
        out,
        r#"<section class="public-total" aria-labelledby="total-h"><h2 id="total-h">{}</h2>"#,
        escape(t.total)
    );
    tiles(&mut out, &counts.total, &t);
    let total_max = [counts.total.collected, counts.total.reviewed]
        .into_iter()
        .chain([counts.total.fulfilled, counts.total.confirmed])
        .max()
        .unwrap_or(0);
    out.push_str(r#"<div class="panel">"#);
    legend(&mut out, &t);
    card(&mut out, &counts.total, total_max, &t);
    out.push_str("</div></section>");
    section(&mut out, "streets", t.streets, &counts.streets, &t);
    section(
        &mut out,
        "communities",
        t.communities,
        &counts.communities,
        &t,
    );
    let _ = write!(
        out,
        "<p class=\"foot muted small\">{}</p>\n</main>\n</body>\n</html>\n",
        escape(t.foot)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(one_decimal(Some(4.26)), "4.3");
        assert_eq!(one_decimal(None), "–");
    }
}
