//! The CSV exports as a supervisor opens them: headers and labels in the
//! reader's language, local ISO date-times in the zone the headers name,
//! the household's address, the reasons people gave, the resident's
//! feedback, and no drafts unless asked for. Read back with the `csv`
//! crate and, where python3 is installed, with Python's `csv` module.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::collections::HashMap;

use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone, client};
use reqwest::StatusCode;
use serde_json::json;
use sync_core::model::{Category, Urgency};
use sync_core::{NewHousehold, NewWish};

/// A CSV file as rows of cells by header.
struct Table {
    header: Vec<String>,
    rows: Vec<HashMap<String, String>>,
}

impl Table {
    fn read(body: &[u8]) -> Table {
        assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
        let text = std::str::from_utf8(&body[3..]).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                header
                    .iter()
                    .cloned()
                    .zip(r.iter().map(str::to_owned))
                    .collect()
            })
            .collect();
        Table { header, rows }
    }

    fn row(&self, column: &str, value: &str) -> Option<&HashMap<String, String>> {
        self.rows.iter().find(|r| r[column] == value)
    }
}

fn get(api: &Api, path: &str, accept_language: Option<&str>) -> Vec<u8> {
    let mut request = client()
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token);
    if let Some(lang) = accept_language {
        request = request.header("accept-language", lang);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.bytes().unwrap().to_vec()
}

fn ok(api: &Api, path: &str, body: serde_json::Value) {
    let (status, answer) = api.post(path, body);
    assert_eq!(status, StatusCode::OK, "{path}: {answer}");
}

/// `ms` as the export writes it at UTC+08:00.
fn china_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

#[test]
fn the_wish_export_reads_in_chinese_with_addresses_reasons_feedback_and_no_drafts() {
    let relay = TestRelay::start();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let rejected = new_card(&mut wang, "想要一台新电视");
    let sent_back = new_card(&mut wang, "修理楼道的灯");
    let done = new_card(&mut wang, "给李大爷一台轮椅");
    let draft = {
        let p = &mut wang.phone;
        let community = p.community();
        let home = p
            .store
            .create_household(&p.author, &community, &NewHousehold::default())
            .unwrap();
        p.store
            .create_wish(
                &p.author,
                &NewWish {
                    household: home,
                    text: "还没写完的心愿".into(),
                    category: Category::Other,
                    urgency: Urgency::Low,
                    photos: vec![],
                },
            )
            .unwrap()
    };
    assert!(wang.sync().unwrap().rejected.is_empty());

    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let act = |id: &sync_core::WishId, what: &str, body| {
        ok(&chen, &format!("/v1/wishes/{id}/{what}"), body)
    };
    act(
        &rejected,
        "review",
        json!({"decision": "reject", "reason": "不在本次帮扶范围内"}),
    );
    act(
        &sent_back,
        "review",
        json!({"decision": "needs_info", "reason": "请补充楼道位置"}),
    );
    act(&done, "review", json!({"decision": "approve"}));
    act(&done, "assign", json!({"claimant": "=李师傅"}));
    act(&done, "fulfil", json!({"note": "轮椅已送到"}));
    act(
        &done,
        "feedback",
        json!({"rating": 4, "comment": "很满意，谢谢"}),
    );

    // No language asked for and none accepted: Chinese, in the zone asked for.
    let body = get(&chen, "/v1/export/wishes.csv?tz_offset=480", None);
    let csv = Table::read(&body);
    for column in [
        "编号",
        "住户地址",
        "状态",
        "类别",
        "认领人/单位",
        "不通过的理由",
        "退回补充的理由",
        "居民评分",
        "居民反馈",
        "创建时间 (UTC+08:00)",
        "点亮时间 (UTC+08:00)",
    ] {
        assert!(
            csv.header.iter().any(|h| h == column),
            "{column} in {:?}",
            csv.header
        );
    }
    let row = csv
        .row("编号", &rejected.to_string())
        .expect("the rejected card");
    assert_eq!(row["住户地址"], "西坑村三巷5号");
    assert_eq!(row["不通过的理由"], "不在本次帮扶范围内");
    assert_eq!(row["状态"], "未通过");
    assert_eq!(row["类别"], "助行辅具");
    assert_eq!(row["紧急程度"], "较急");
    let (_, card) = chen.get(&format!("/v1/wishes/{rejected}"));
    assert_eq!(
        row["创建时间 (UTC+08:00)"],
        china_time(card["created_at"].as_i64().unwrap())
    );
    let iso = regex_like_iso;
    assert!(iso(&row["提交时间 (UTC+08:00)"]), "{row:?}");
    assert!(iso(&row["审核时间 (UTC+08:00)"]), "{row:?}");
    assert_eq!(row["点亮时间 (UTC+08:00)"], "", "not lit up");

    let back = csv.row("编号", &sent_back.to_string()).unwrap();
    assert_eq!(back["状态"], "待补充");
    assert_eq!(back["退回补充的理由"], "请补充楼道位置");
    let lit = csv.row("编号", &done.to_string()).unwrap();
    assert_eq!(lit["状态"], "已确认");
    assert_eq!(
        lit["认领人/单位"], "'=李师傅 （未注册）",
        "a formula stays text"
    );
    assert_eq!(lit["点亮情况说明"], "轮椅已送到");
    assert_eq!(
        (lit["居民评分"].as_str(), lit["居民反馈"].as_str()),
        ("4", "很满意，谢谢")
    );
    assert!(iso(&lit["确认时间 (UTC+08:00)"]));

    assert!(
        csv.row("编号", &draft.to_string()).is_none(),
        "drafts are left out"
    );
    assert_eq!(csv.rows.len(), 3);
    let with_drafts = Table::read(&get(&chen, "/v1/export/wishes.csv?drafts=true", None));
    assert_eq!(
        with_drafts.row("编号", &draft.to_string()).unwrap()["状态"],
        "草稿"
    );

    // English when asked for, or when the browser accepts it before Chinese.
    for (path, accept) in [
        (
            "/v1/export/wishes.csv?lang=en&tz_offset=-300",
            Some("zh-CN"),
        ),
        (
            "/v1/export/wishes.csv?tz_offset=-300",
            Some("en-GB,en;q=0.9,zh;q=0.5"),
        ),
    ] {
        let en = Table::read(&get(&chen, path, accept));
        let row = en.row("ID", &rejected.to_string()).unwrap();
        assert_eq!(row["Household address"], "西坑村三巷5号");
        assert_eq!(row["Status"], "Rejected");
        assert_eq!(row["Category"], "Mobility aid");
        assert_eq!(row["Rejected because"], "不在本次帮扶范围内");
        assert!(iso(&row["Created (UTC-05:00)"]), "{:?}", en.header);
    }

    // The scope check holds: another street is refused.
    assert_eq!(
        chen.get("/v1/export/wishes.csv?scope=longgang/buji").0,
        StatusCode::FORBIDDEN
    );

    python_reads(&body, &rejected.to_string());
}

/// `2026-12-01 14:30`.
fn regex_like_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// The same file as Python's `csv` module reads it (skipped without python3).
fn python_reads(body: &[u8], rejected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wishes.csv");
    std::fs::write(&path, body).unwrap();
    let script = r#"
import csv, json, re, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    rows = list(csv.DictReader(f))
row = next(r for r in rows if r["编号"] == sys.argv[2])
iso = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
print(json.dumps({
    "address": row["住户地址"],
    "reason": row["不通过的理由"],
    "iso": all(iso.match(r["创建时间 (UTC+08:00)"]) for r in rows),
    "drafts": sum(r["状态"] == "草稿" for r in rows),
}, ensure_ascii=False))
"#;
    let output = match std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .arg(rejected)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            eprintln!("python3 not run ({e}); the csv crate's reading stands");
            return;
        }
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        seen,
        json!({"address": "西坑村三巷5号", "reason": "不在本次帮扶范围内", "iso": true, "drafts": 0})
    );
}

#[test]
fn the_statistics_export_has_the_figures_of_the_page_in_the_language_asked_for() {
    let relay = TestRelay::start();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let first = new_card(&mut wang, "给李大爷一台轮椅");
    new_card(&mut wang, "修理楼道的灯");
    assert!(wang.sync().unwrap().rejected.is_empty());
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    ok(
        &chen,
        &format!("/v1/wishes/{first}/review"),
        json!({"decision": "approve"}),
    );

    let zh = Table::read(&get(&chen, "/v1/export/stats.csv", None));
    assert_eq!(zh.header[..4], ["级别", "范围", "收集", "已审核"]);
    let total = zh.row("级别", "合计").unwrap();
    assert_eq!(
        (
            total["范围"].as_str(),
            total["收集"].as_str(),
            total["已审核"].as_str(),
            total["已通过"].as_str()
        ),
        ("我的全部范围", "2", "1", "1")
    );
    assert!(zh.row("级别", "街道").is_some());
    assert_eq!(zh.row("级别", "社区").unwrap()["收集"], "2");

    let en = Table::read(&get(
        &chen,
        "/v1/export/stats.csv?lang=en&scope=longgang/yuanshan/xikeng",
        None,
    ));
    let total = en.row("Level", "Total").unwrap();
    assert_eq!(
        (total["Collected"].as_str(), total["Lit up"].as_str()),
        ("2", "0")
    );
    assert_eq!(
        chen.get("/v1/export/stats.csv?scope=longgang/buji").0,
        StatusCode::FORBIDDEN
    );
}
