//! What people read for the workflow's codes (statuses, categories,
//! urgencies, household tags, a claimant without an account) in Chinese
//! and English. One table: the CSV exports read it here, and the dashboard
//! reads it as `/assets/labels.js`, a module made from it.

use std::sync::LazyLock;

use super::Lang;

/// `(key, 中文, English)`; a key is `kind.code`, such as `status.needs_info`.
const LABELS: &[(&str, &str, &str)] = &[
    ("status.draft", "草稿", "Draft"),
    ("status.submitted", "待审核", "Submitted"),
    ("status.needs_info", "待补充", "Needs info"),
    ("status.approved", "已通过", "Approved"),
    ("status.rejected", "未通过", "Rejected"),
    ("status.withdrawn", "已撤回", "Withdrawn"),
    ("status.claimed", "已认领", "Claimed"),
    ("status.fulfilled", "已点亮", "Lit up"),
    ("status.confirmed", "已确认", "Confirmed"),
    ("status.cancelled", "已取消", "Cancelled"),
    ("category.mobility_aid", "助行辅具", "Mobility aid"),
    ("category.home_repair", "居家维修", "Home repair"),
    ("category.public_facility", "公共设施", "Public facility"),
    (
        "category.daily_necessities",
        "生活物资",
        "Daily necessities",
    ),
    ("category.medical", "医疗健康", "Medical"),
    ("category.education", "学习教育", "Education"),
    ("category.companionship", "陪伴关爱", "Companionship"),
    ("category.other", "其他", "Other"),
    ("urgency.low", "不急", "Low"),
    ("urgency.normal", "一般", "Normal"),
    ("urgency.high", "较急", "High"),
    ("urgency.critical", "紧急", "Critical"),
    ("tag.living_alone", "独居", "Living alone"),
    ("tag.low_income", "低保/低收入", "Low income"),
    ("tag.disability", "残疾", "Disability"),
    ("tag.left_behind_child", "留守儿童", "Left-behind child"),
    ("tag.illness", "重病", "Serious illness"),
    ("claimant.free", "（未注册）", "(unregistered)"),
    ("tag.veteran", "优抚对象", "Veteran"),
];

/// The label of `code` of `kind` (`status`, `category`, `urgency`, `tag`)
/// in `lang`, or the code itself when it has none (a code from a newer phone).
pub(crate) fn label<'a>(lang: Lang, kind: &str, code: &'a str) -> &'a str {
    LABELS
        .iter()
        .find(|(key, _, _)| {
            key.strip_prefix(kind)
                .and_then(|k| k.strip_prefix('.'))
                .is_some_and(|k| k == code)
        })
        .map_or(code, |(_, zh, en)| match lang {
            Lang::Zh => zh,
            Lang::En => en,
        })
}

/// `/assets/labels.js`: `export const labels = { zh: {…}, en: {…} };`
static SCRIPT: LazyLock<String> = LazyLock::new(|| {
    let table = |pick: fn(&(&str, &'static str, &'static str)) -> &'static str| {
        LABELS
            .iter()
            .map(|row| (row.0.to_owned(), serde_json::Value::from(pick(row))))
            .collect::<serde_json::Map<String, serde_json::Value>>()
    };
    let zh = serde_json::Value::Object(table(|row| row.1));
    let en = serde_json::Value::Object(table(|row| row.2));
    format!(
        "// Made by the relay from server/src/dashboard/labels.rs: the labels of\n         // statuses, categories, urgencies and tags, shared with the CSV exports.\n         export const labels = {};\n",
        serde_json::json!({ "zh": zh, "en": en })
    )
});

/// The dashboard's module of labels.
pub(crate) fn script() -> &'static [u8] {
    SCRIPT.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_in_either_language_and_unknown_ones_as_themselves() {
        assert_eq!(label(Lang::Zh, "category", "mobility_aid"), "助行辅具");
        assert_eq!(label(Lang::En, "status", "fulfilled"), "Lit up");
        assert_eq!(label(Lang::Zh, "status", "needs_info"), "待补充");
        assert_eq!(label(Lang::Zh, "status", "teleported"), "teleported");
        assert_eq!(
            label(Lang::Zh, "statu", "s.draft"),
            "s.draft",
            "kinds are whole words"
        );
    }

    #[test]
    fn every_code_of_sync_core_has_a_label_in_both_languages() {
        use sync_core::Status;
        use sync_core::model::{Category, Urgency, VulnerabilityTag};
        let codes = Status::ALL
            .iter()
            .map(|s| ("status", s.as_str()))
            .chain(Category::ALL.iter().map(|c| ("category", c.as_str())))
            .chain(Urgency::ALL.iter().map(|u| ("urgency", u.as_str())))
            .chain(VulnerabilityTag::ALL.iter().map(|t| ("tag", t.as_str())));
        for (kind, code) in codes {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(label(lang, kind, code), code, "{kind}.{code} in {lang:?}");
            }
        }
        let script = String::from_utf8_lossy(script()).into_owned();
        assert!(
            script.contains("\"category.mobility_aid\":\"助行辅具\""),
            "{script}"
        );
    }
}
