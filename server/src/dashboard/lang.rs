//! The dashboard's language: 中文 or English. An explicit choice (the
//! `lang` query parameter, remembered in a cookie) wins; otherwise the
//! browser's `Accept-Language` decides, Chinese when it asks for Chinese
//! before English.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

use crate::session;

/// The cookie remembering a chosen language.
pub(crate) const LANG_COOKIE: &str = "doorstep_lang";

/// A language the dashboard speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The short code used in URLs and cookies.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The value of `<html lang>`.
    pub(crate) fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, offered by the switch.
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The switch's label: the other language's own name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    fn parse(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// The language of `Accept-Language`: the supported one with the highest
/// weight (the first of equals), English when neither is asked for.
fn from_accept_language(value: &str) -> Lang {
    accepted(value).unwrap_or(Lang::En)
}

/// The supported language `Accept-Language` weighs highest, if it names one.
fn accepted(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or_default().trim();
        let weight = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(lang) = Lang::parse(tag)
            && weight > 0.0
            && best.is_none_or(|(w, _)| weight > w)
        {
            best = Some((weight, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

/// The language for this request, and whether `asked` (a `lang` query
/// parameter) chose it, so the caller remembers it in a cookie.
pub(crate) fn negotiate(headers: &HeaderMap, asked: Option<&str>) -> (Lang, bool) {
    if let Some(lang) = asked.and_then(Lang::parse) {
        return (lang, true);
    }
    if let Some(lang) = session::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
        return (lang, false);
    }
    let accept = headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    (from_accept_language(accept), false)
}

/// The language of a file for people (a CSV export): `asked` (a `lang`
/// query parameter), else the chosen language's cookie, else
/// `Accept-Language`, else Chinese, the districts' own.
pub(crate) fn for_file(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    asked
        .and_then(Lang::parse)
        .or_else(|| session::cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(accepted)
        })
        .unwrap_or(Lang::Zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_when_the_browser_prefers_it() {
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(from_accept_language("fr-FR, zh-TW;q=0.5"), Lang::Zh);
        assert_eq!(from_accept_language("en;q=0.5, zh;q=0.7"), Lang::Zh);
        assert_eq!(from_accept_language("de"), Lang::En);
        assert_eq!(from_accept_language(""), Lang::En);
    }

    #[test]
    fn an_explicit_choice_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, "zh-CN".parse().unwrap());
        assert_eq!(negotiate(&headers, None), (Lang::Zh, false));
        assert_eq!(negotiate(&headers, Some("en")), (Lang::En, true));
        headers.insert("cookie", "doorstep_lang=en".parse().unwrap());
        assert_eq!(negotiate(&headers, None), (Lang::En, false));
    }

    #[test]
    fn a_file_is_in_chinese_unless_english_is_asked_for() {
        let mut headers = HeaderMap::new();
        assert_eq!(for_file(&headers, None), Lang::Zh);
        headers.insert(ACCEPT_LANGUAGE, "de, en;q=0.5".parse().unwrap());
        assert_eq!(for_file(&headers, None), Lang::En);
        assert_eq!(for_file(&headers, Some("zh")), Lang::Zh);
        headers.insert(ACCEPT_LANGUAGE, "de".parse().unwrap());
        assert_eq!(for_file(&headers, None), Lang::Zh);
        assert_eq!(for_file(&headers, Some("fr")), Lang::Zh);
    }
}
