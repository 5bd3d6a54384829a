//! `GET /api/predict` through the real binary: two weeks of simulated
//! traffic with daily peaks, imported and served; the forecast of the
//! next day must beat the naive same-hour-yesterday baseline in its own
//! backtest and land near what the simulator really produced.

mod common;
use common::{gantry, Server};

use reqwest::StatusCode;
use serde_json::Value;

/// ~18.5 simulated days from 2023-12-01 00:00 (0.3 records/s).
const RECORDS: &str = "480000";

fn mean_abs_error(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn the_forecast_beats_same_hour_yesterday_and_follows_the_day() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("passes.tsv");
    let data = tmp.path().join("data");
    let input_s = input.to_str().unwrap();
    gantry(&[
        "simulate",
        "--fast",
        "--records",
        RECORDS,
        "--rate",
        "0.3",
        "--clones",
        "0",
        "-o",
        input_s,
    ]);
    gantry(&["import", input_s, "--data-dir", data.to_str().unwrap()]);
    let s = Server::serve(&data, &[]);

    let (mut mape, mut baseline_mape) = (0.0, 0.0);
    let origins = [
        "2023-12-07",
        "2023-12-10",
        "2023-12-11",
        "2023-12-14",
        "2023-12-16",
        "2023-12-17",
        "2023-12-18",
    ];
    for from in origins {
        let url = s.url_with(
            "/api/predict",
            &[("from", &format!("{from} 00:00:00")), ("hours", "24")],
        );
        let p = s.json(url);
        let b = &p["backtest"];
        let (mae, baseline) = (
            b["mae"].as_f64().unwrap(),
            b["baseline_mae"].as_f64().unwrap(),
        );
        eprintln!(
            "from {from}: model MAE {mae:.1} MAPE {}, baseline MAE {baseline:.1} MAPE {}",
            b["mape"], b["baseline_mape"]
        );
        assert!(mae < baseline, "{from}: {b}");
        assert_eq!(b["beats_baseline"], true);
        mape += b["mape"].as_f64().unwrap() / origins.len() as f64;
        baseline_mape += b["baseline_mape"].as_f64().unwrap() / origins.len() as f64;
        assert_eq!(p["from"], format!("{from} 00:00:00"));

        // The predicted day against the day the simulator produced.
        let predictions = p["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 24);
        assert_eq!(predictions[7]["hour"], format!("{from} 07:00:00"));
        let predicted: Vec<f64> = predictions
            .iter()
            .map(|h| h["predicted"].as_f64().unwrap())
            .collect();
        let actual: Vec<f64> = s
            .json(s.url_with("/api/stats/flow_24h", &[("date", from)]))
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["value"].as_f64().unwrap())
            .collect();
        let mean = actual.iter().sum::<f64>() / 24.0;
        let error = mean_abs_error(&predicted, &actual);
        assert!(
            error < 0.1 * mean,
            "{from}: MAE {error:.1} of a mean {mean:.1}: {predicted:?} vs {actual:?}"
        );
    }

    eprintln!("mean MAPE: model {mape:.2} %, baseline {baseline_mape:.2} %");
    assert!(mape < baseline_mape);

    // One checkpoint: the busiest.
    let top = s.json(s.url_with("/api/stats/kkmc_count", &[("limit", "1")]));
    let kkmc = top[0]["name"].as_str().unwrap().to_owned();
    let one = s.json(s.url_with(
        "/api/predict",
        &[
            ("kkmc", &kkmc),
            ("from", "2023-12-17 00:00:00"),
            ("hours", "48"),
        ],
    ));
    assert_eq!(one["kkmc"], kkmc.as_str());
    assert_eq!(one["predictions"].as_array().unwrap().len(), 48);
}

#[test]
fn bad_forecast_requests_are_4xx_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("passes.tsv");
    let data = tmp.path().join("data");
    let input_s = input.to_str().unwrap();
    // Two days: too little to learn from.
    gantry(&[
        "simulate",
        "--fast",
        "--records",
        "50000",
        "--rate",
        "0.3",
        "-o",
        input_s,
    ]);
    gantry(&["import", input_s, "--data-dir", data.to_str().unwrap()]);
    let s = Server::serve(&data, &[]);
    let check = |params: &[(&str, &str)], status: StatusCode, parameter: Value, words: &str| {
        let response = s.get(s.url_with("/api/predict", params));
        assert_eq!(response.status(), status, "{params:?}");
        let body: Value = response.json().unwrap();
        assert_eq!(body["parameter"], parameter, "{body}");
        assert!(body["error"].as_str().unwrap().contains(words), "{body}");
    };
    check(
        &[("hours", "0")],
        StatusCode::BAD_REQUEST,
        "hours".into(),
        "1 to 48",
    );
    check(
        &[("hours", "49")],
        StatusCode::BAD_REQUEST,
        "hours".into(),
        "1 to 48",
    );
    check(
        &[("hours", "soon")],
        StatusCode::BAD_REQUEST,
        "hours".into(),
        "\"soon\"",
    );
    check(
        &[("from", "yesterday")],
        StatusCode::BAD_REQUEST,
        "from".into(),
        "\"yesterday\"",
    );
    check(
        &[("kkmc", "no such checkpoint")],
        StatusCode::NOT_FOUND,
        Value::Null,
        "no passes at checkpoint",
    );
    check(
        &[],
        StatusCode::UNPROCESSABLE_ENTITY,
        Value::Null,
        "not enough history",
    );
    check(
        &[("horizon", "3")],
        StatusCode::BAD_REQUEST,
        "horizon".into(),
        "unknown field",
    );
}
