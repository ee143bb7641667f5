//! The `originhub` command line contract, run as a user runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn originhub(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .args(args)
        .current_dir(repo())
        .env_remove("ORIGINHUB_PROFILES")
        // These tests are about the commands on the embedded default, SQLite.
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails before reading its input closes the pipe: that is not an error here.
    if let Err(e) = input.write_all(stdin.unwrap_or_default()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The standard output of a command that must have succeeded.
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that a command exited with `code` and that `stream` (its stdout or stderr) says
/// `expected`.
fn exits_saying(out: &Output, code: i32, stream: &[u8], expected: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(stream).contains(expected), "{}", text(stream));
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("originhub-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn translate_writes_the_document_to_stdout_and_the_report_to_stderr() {
    let out = originhub(
        &[
            "translate",
            "--from",
            "edi3-coo-json",
            "--to",
            "borastria-xml",
            "profiles/samples/edi3-coo-json.json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("<?xml"), "{stdout}");
    assert!(
        stdout.contains(r#"<Route exportCountry="NZL" importCountry="KOR">"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("<Criterion code=\"G\"/>"),
        "CTC is Borastria's G: {stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "warning: not representable in borastria-xml: goods_items[1].origin_criterion.modifiers"
        ),
        "{stderr}"
    );
}

#[test]
fn translate_reads_stdin_and_prints_json() {
    let doc = std::fs::read(repo().join("profiles/samples/chafta-form-json.json")).unwrap();
    let out = originhub(
        &[
            "translate",
            "--from",
            "chafta-form-json",
            "--to",
            "canonical-json",
            "--json",
            "-",
        ],
        Some(&doc),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let document: Value = serde_json::from_str(result["document"].as_str().unwrap()).unwrap();
    assert_eq!(document["import_country"], "CN");
    assert_eq!(
        document["goods_items"][0]["origin_criterion"]["criteria"][0],
        "PE"
    );
    assert!(
        result["report"]["not_representable"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn an_invalid_document_exits_1_and_lists_every_violation() {
    let doc = text(&std::fs::read(repo().join("profiles/samples/aanzfta-vc-json.json")).unwrap())
        .replace(r#""countryCode": "AU""#, r#""countryCode": "AUD""#)
        .replace("0202.30", "88");
    let args = [
        "translate",
        "--from",
        "aanzfta-vc-json",
        "--to",
        "borastria-xml",
    ];
    let out = originhub(&args, Some(doc.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2 violation(s)"), "{stderr}");
    assert!(stderr.contains(r#"consignor.postalAddress.countryCode: country-code: expected a country written as ISO 3166-1 alpha-2 code (got "AUD")"#), "{stderr}");
    assert!(
        stderr
            .contains(r#"tradeLineItems[0].tradeProduct.harmonisedTariffCode.classCode: hs-code"#),
        "{stderr}"
    );

    let json = originhub(&[&args[..], &["--json"]].concat(), Some(doc.as_bytes()));
    assert_eq!(json.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(result["violations"].as_array().unwrap().len(), 2);
    assert_eq!(result["violations"][0]["value"], "AUD");
}

#[test]
fn refused_input_and_usage_errors_have_their_own_exit_codes() {
    let to_canonical = [
        "translate",
        "--from",
        "edi3-coo-json",
        "--to",
        "canonical-json",
    ];
    let big = vec![b' '; 2048];
    let out = originhub(
        &[&to_canonical[..], &["--max-bytes", "1024"]].concat(),
        Some(&big),
    );
    exits_saying(
        &out,
        1,
        &out.stderr,
        "document refused: document is 1025 bytes, over the limit of 1024 bytes",
    );

    let out = originhub(
        &["translate", "--from", "nope", "--to", "canonical-json"],
        Some(b"{}"),
    );
    exits_saying(&out, 2, &out.stderr, r#"no profile with id "nope""#);

    let out = originhub(
        &[&to_canonical[..], &["--profiles", "/nonexistent"]].concat(),
        Some(b"{}"),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_refuses_a_zero_setting_before_it_starts() {
    let dir = scratch("zero-setting");
    let config = dir.join("hub.toml");
    std::fs::write(&config, "max_batch = 0\n").unwrap();
    let out = originhub(&["serve", "--config", config.to_str().unwrap()], None);
    exits_saying(
        &out,
        2,
        &out.stderr,
        "max_batch must be at least 1: with 0 ",
    );
    // The same from the environment, over a file that is fine.
    std::fs::write(&config, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("ORIGINHUB_POLL_INTERVAL_MS", "0")
        .output()
        .unwrap();
    exits_saying(
        &out,
        2,
        &out.stderr,
        "poll_interval_ms must be at least 1: with 0 every subscription would query the database \
         without pause (set by ORIGINHUB_POLL_INTERVAL_MS)",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("ORIGINHUB_MAX_DEPTH", "0")
        // Reported after max_depth: should the variable above be ignored, serve still exits
        // (naming this one) instead of starting.
        .env("ORIGINHUB_POLL_INTERVAL_MS", "0")
        .output()
        .unwrap();
    exits_saying(
        &out,
        2,
        &out.stderr,
        "max_depth must be at least 1: with 0 every document would be refused (set by \
         ORIGINHUB_MAX_DEPTH)",
    );
    // Refused before anything was made: no data directory, no certificates, no database.
    assert!(!dir.join("data").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn profile_check_passes_the_shipped_profiles_and_points_at_lines() {
    let out = originhub(&["profile", "check"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("5 profile(s) checked, 0 failed"));

    let dir = scratch("check");
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[profile]\nid = \"b\"\nversion = \"1\"\nsyntax = \"json\"\n\n[[field]]\nmember = \"x\"\ncanonical = \"goods_items[].hs_code\"\n").unwrap();
    let out = originhub(&["profile", "check", broken.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:6: field #1 (x): member and canonical paths must cross the same number of lists",
            broken.display()
        )),
        "{stderr}"
    );

    let json = originhub(
        &["profile", "check", "--json", broken.to_str().unwrap()],
        None,
    );
    let result: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(result["failed"], 1);
    assert_eq!(result["profiles"][0]["errors"][0]["line"], 6);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn schema_canonical_prints_the_generated_json_schema() {
    let out = originhub(&["schema", "canonical"], None);
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["title"],
        "Origin Hub canonical certificate of origin"
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["id", "issue_date_time"])
    );
    assert_eq!(
        schema["$defs"]["GoodsItem"]["properties"]["hs_code"]["x-originhub-kind"],
        "hs-code"
    );
}

/// `originhub demo` on SQLite, then `serve --config` continues that hub and the member commands
/// talk to it with the client files the demo left.
/// Kills a child process when dropped, unless disarmed.
struct Reaper(Option<u32>);

impl Reaper {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Runs `demo --json` with `certificates` into a new folder `name/hub`; returns the scratch
/// folder, the demo's data folder and its summary.
fn demo_folder(name: &str, certificates: usize) -> (PathBuf, PathBuf, Value) {
    let dir = scratch(name);
    let data = dir.join("hub");
    let out = originhub(
        &[
            "demo",
            "--certificates",
            &certificates.to_string(),
            "--json",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = serde_json::from_slice(&out.stdout).unwrap();
    (dir, data, summary)
}

#[test]
fn demo_then_serve_and_member_commands() {
    let (dir, data, summary) = demo_folder("demo", 24);
    assert_eq!(summary["submitted"], 24);
    assert_eq!(summary["delivered"], 24);
    assert_eq!(summary["acknowledged"], 24);
    assert_eq!(summary["agreements"].as_array().unwrap().len(), 2);
    for file in [
        "hub.toml",
        "hub.db",
        "certs/ca.pem",
        "clients/borastria.toml",
        "clients/operator.toml",
        "clients/auditor.toml",
    ] {
        assert!(data.join(file).is_file(), "{file} is missing");
    }

    let served = serve(&data.join("hub.toml"));

    let client = data.join("clients/borastria.toml");
    let client = client.to_str().unwrap();
    // An invalid document is refused with the field that is wrong.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, br#"{"id": "X"}"#).unwrap();
    let out = originhub(
        &[
            "submit",
            "--client",
            client,
            "--agreement",
            "BCFTA",
            "--profile",
            "borastria-xml",
            bad.to_str().unwrap(),
        ],
        None,
    );
    exits_saying(&out, 1, &out.stderr, "InvalidArgument");
    let out = originhub(&["status", "--client", client, "no-such-id"], None);
    exits_saying(&out, 1, &out.stderr, "NotFound");
    // The demo acknowledged everything: the inbox is empty, and says so.
    let inbox = dir.join("inbox");
    let out = originhub(
        &[
            "inbox",
            "--client",
            client,
            "--out",
            inbox.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0 delivery(ies) saved"),
        "{}",
        text(&out.stderr)
    );
    // The auditor exports the receipt log; the export verifies offline, and stops verifying
    // once a line is altered, naming the leaf.
    let auditor = data.join("clients/auditor.toml");
    let auditor = auditor.to_str().unwrap();
    let checkpoint = originhub(&["audit", "checkpoint", "--client", auditor], None);
    assert!(checkpoint.status.success(), "{}", text(&checkpoint.stderr));
    let saved = dir.join("checkpoint.txt");
    std::fs::write(&saved, &checkpoint.stdout).unwrap();
    let export = originhub(
        &["audit", "export", "--client", auditor, "--format", "jsonl"],
        None,
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    let log = dir.join("log.jsonl");
    std::fs::write(&log, &export.stdout).unwrap();
    // 24 accepted, 24 queued and 24 acknowledged, the refused invalid document, and the header.
    assert_eq!(text(&export.stdout).lines().count(), 74);
    let verified = succeeded(&originhub(
        &["audit", "verify", log.to_str().unwrap()],
        None,
    ));
    assert!(verified.starts_with("ok: 73 leaves"), "{verified}");
    let pinned = originhub(
        &[
            "audit",
            "verify",
            "--client",
            auditor,
            log.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        text(&pinned.stdout).contains("pinned"),
        "{}",
        text(&pinned.stdout)
    );
    let altered: Vec<String> = text(&export.stdout)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 10 {
                l.replacen("\"at\":1", "\"at\":2", 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    let bad_log = dir.join("altered.jsonl");
    std::fs::write(&bad_log, altered.join("\n") + "\n").unwrap();
    let out = originhub(&["audit", "verify", bad_log.to_str().unwrap()], None);
    exits_saying(&out, 1, &out.stdout, "leaf 9: altered");
    let out = originhub(
        &[
            "audit",
            "query",
            "--client",
            auditor,
            "--kind",
            "acknowledged",
            "--limit",
            "5",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        6,
        "{}",
        text(&out.stdout)
    );
    let out = originhub(
        &[
            "audit",
            "verify",
            "--hub",
            auditor,
            "--since",
            saved.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Adjikistan submits a signed certificate (its client file names its signing key) under the
    // multilateral agreement, which requires signatures; unsigned, it is refused.
    let mut certificate: Value = serde_json::from_slice(
        &std::fs::read(repo().join("profiles/samples/canonical-json.json")).unwrap(),
    )
    .unwrap();
    certificate["id"] = "CLI-SIGNED-1".into();
    certificate["agreement"] = "FRTA".into();
    certificate["export_country"] = "XA".into();
    certificate["import_country"] = "XB".into();
    let signed_doc = dir.join("signed.json");
    std::fs::write(&signed_doc, certificate.to_string()).unwrap();
    let adjikistan = data.join("clients/adjikistan.toml");
    let submit = |extra: &[&str]| {
        let mut args = vec![
            "submit",
            "--client",
            adjikistan.to_str().unwrap(),
            "--agreement",
            "FRTA",
            "--profile",
            "canonical-json",
        ];
        args.extend_from_slice(extra);
        args.push(signed_doc.to_str().unwrap());
        originhub(&args, None)
    };
    let out = submit(&["--unsigned"]);
    exits_saying(&out, 1, &out.stderr, "requires the issuer's signature");
    let out = submit(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let received = dir.join("received");
    let out = originhub(
        &[
            "inbox",
            "--client",
            client,
            "--out",
            received.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let envelope = std::fs::read_dir(&received)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().contains(".document.")
                && !p.to_string_lossy().contains(".original.")
        })
        .expect("an envelope");
    let checked = succeeded(&originhub(
        &["verify-delivery", envelope.to_str().unwrap()],
        None,
    ));
    assert!(
        checked.contains("issuer signature of the original by adjikistan+"),
        "{checked}"
    );
    // Change one byte of the delivered document: the attested hash no longer matches.
    let document = std::fs::read_dir(&received)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".document."))
        .unwrap();
    let mut bytes = std::fs::read(&document).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&document, bytes).unwrap();
    let out = originhub(&["verify-delivery", envelope.to_str().unwrap()], None);
    exits_saying(&out, 1, &out.stdout, "FAILED  ");
    // The failed line gives the file's hash beside the attested one.
    let failed = text(&out.stdout);
    let line = failed
        .lines()
        .find(|l| l.contains(".document."))
        .unwrap_or_default();
    assert!(
        line.starts_with("FAILED") && line.contains(", but the hub attested "),
        "{failed}"
    );
    // SIGTERM, as a service manager sends it: a graceful stop, exit 0.
    let rest = served.terminate();
    assert!(rest.contains("shutting down"), "{rest}");
}

/// A running `originhub serve`, killed if the test fails before it stops it.
struct Served {
    child: std::process::Child,
    reaper: Reaper,
    /// Kept open: the server writes to it until it exits.
    stderr: std::io::BufReader<std::process::ChildStderr>,
}

/// Starts `originhub serve` on a config and waits until it says where it listens.
fn serve(config: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A failed assertion must not leave the server running (it would hold the test's pipes).
    let reaper = Reaper(Some(child.id()));
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("listening on https://"), "{line}");
    Served {
        child,
        reaper,
        stderr,
    }
}

impl Served {
    /// Sends SIGTERM, as a service manager does, and returns what the server wrote after its
    /// first line; it must exit 0.
    fn terminate(self) -> String {
        let Served {
            mut child,
            reaper,
            mut stderr,
        } = self;
        stop_with(&mut child, reaper, "-TERM");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        rest
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to `child` and waits for it, which must exit 0.
fn stop_with(child: &mut std::process::Child, reaper: Reaper, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    reaper.disarm();
    assert!(status.success(), "after {signal} it exited with {status}");
}

/// The files in `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
fn audit_export_writes_its_file_only_once_the_log_checks_out() {
    let (dir, data, summary) = demo_folder("export", 4);
    let hub = serve(&data.join("hub.toml"));
    let auditor = data.join("clients/auditor.toml");
    let export = |format: &str, output: Option<&Path>| {
        let mut args = vec!["audit", "export", "--client", auditor.to_str().unwrap()];
        args.extend_from_slice(&["--format", format]);
        if let Some(output) = output {
            args.extend_from_slice(&["--output", output.to_str().unwrap()]);
        }
        originhub(&args, None)
    };
    let csv = dir.join("log.csv");
    let out = export("csv", Some(&csv));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    // A leaf for each submission accepted, each delivery queued and acknowledged, under the
    // heading row.
    let leaves =
        summary["submitted"].as_u64().unwrap() + 2 * summary["delivered"].as_u64().unwrap();
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count() as u64, 1 + leaves, "{rows}");
    assert!(rows.starts_with("index,at,kind,"), "{rows}");
    assert_eq!(
        files_starting(&dir, ".originhub-export-"),
        Vec::<String>::new()
    );

    // Someone with the database's file rewrites a leaf the hub has signed.
    let database = data.join("hub.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::ConnectOptions;
        let mut db = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&database)
            .connect()
            .await
            .unwrap();
        let changed = sqlx::query("UPDATE receipt_log SET entry = entry || ' ' WHERE idx = 1")
            .execute(&mut db)
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
    });
    for format in ["csv", "jsonl"] {
        let file = dir.join(format!("rewritten.{format}"));
        let out = export(format, Some(&file));
        exits_saying(&out, 1, &out.stderr, "do not make the root");
        assert!(text(&out.stderr).contains("nothing exported"));
        assert!(!file.exists(), "{format}: a failed export left its file");
        assert_eq!(
            files_starting(&dir, ".originhub-export-"),
            Vec::<String>::new()
        );
        // To standard output too, nothing goes out unchecked.
        let out = export(format, None);
        exits_saying(&out, 1, &out.stderr, "do not make the root");
        assert!(out.stdout.is_empty(), "{format}: {}", text(&out.stdout));
    }
    // The good export is untouched.
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), rows);
    hub.terminate();
}

#[test]
fn a_hub_whose_stored_agreements_fail_their_checks_starts_and_says_so() {
    let (_dir, data, _) = demo_folder("left-out", 2);
    // Definitions only the database holds (stored after their files changed) that today's
    // checks refuse: an older version with looser checks could have stored them.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::ConnectOptions;
        let mut db = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data.join("hub.db"))
            .connect()
            .await
            .unwrap();
        let changed = sqlx::query(
            "UPDATE agreements SET definition = replace(definition, \
             char(10) || 'effective_from = ', \
             char(10) || 'effective_until = \"1999-12-31\"' || char(10) || 'effective_from = '), \
             updated_at = updated_at + 3600000000",
        )
        .execute(&mut db)
        .await
        .unwrap();
        assert_eq!(changed.rows_affected(), 2);
    });
    let hub = serve(&data.join("hub.toml"));
    let operator = data.join("clients/operator.toml");
    let listed = succeeded(&originhub(
        &[
            "operator",
            "list",
            "agreements",
            "--client",
            operator.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(listed.lines().count(), 1, "only the heading: {listed}");
    let said = hub.terminate();
    for agreement in ["BCFTA", "FRTA"] {
        assert!(
            said.contains(&format!(
                "agreement \"{agreement}\": effective_until \"1999-12-31\" is before effective_from"
            )),
            "{said}"
        );
    }
    assert!(
        said.contains("left out of routing until it is put right"),
        "{said}"
    );
    assert!(
        said.contains(
            "the hub has no agreements to route by: the 2 the database holds are all left out"
        ),
        "{said}"
    );
}

#[test]
fn operator_commands_manage_a_running_hub() {
    let (dir, data, summary) = demo_folder("operator", 6);
    let hub = serve(&data.join("hub.toml"));
    let operator = data.join("clients/operator.toml");
    let operator = operator.to_str().unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec!["operator"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--client", operator]);
        originhub(&all, stdin)
    };

    let members = succeeded(&run(&["list", "members"], None));
    let lines: Vec<&str> = members.lines().collect();
    assert!(lines[0].starts_with("member"), "{members}");
    assert_eq!(lines.len(), 5, "{members}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("borastria") && l.contains("XB")),
        "{members}"
    );
    let profiles: Value =
        serde_json::from_str(&succeeded(&run(&["list", "profiles", "--json"], None))).unwrap();
    assert!(
        profiles
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "borastria-xml" && p["version"].is_string()),
        "{profiles}"
    );
    let version = profiles
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "borastria-xml")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let pinned = format!("borastria-xml@{version}");
    let out = run(&["get", "profile", &pinned], None);
    assert!(
        succeeded(&out).contains("[profile]"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains(&format!("version {version}")),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["get", "profile", "borastria-xml@0.0.0-none"], None);
    exits_saying(&out, 1, &out.stderr, "has no version");
    let agreement = succeeded(&run(&["get", "agreement", "BCFTA"], None));
    assert!(agreement.contains("id = \"BCFTA\""), "{agreement}");
    let out = run(&["get", "member", "nobody"], None);
    exits_saying(&out, 1, &out.stderr, "NotFound");

    // A new member, then an agreement naming it; both are routed by at once.
    let dorvania = "id = \"dorvania\"\nname = \"Dorvania Customs\"\ncountry = \"XA\"\n";
    let out = run(&["put", "member", "-"], Some(dorvania.as_bytes()));
    assert_eq!(succeeded(&out).trim(), "member dorvania stored");
    let agreement_file = dir.join("DDFTA.toml");
    std::fs::write(
        &agreement_file,
        "id = \"DDFTA\"\nname = \"Dorvania test\"\n[[party]]\nmember = \"dorvania\"\nprofile = \"canonical-json\"\n[[party]]\nmember = \"borastria\"\nprofile = \"borastria-xml\"\n",
    )
    .unwrap();
    succeeded(&run(
        &["put", "agreement", agreement_file.to_str().unwrap()],
        None,
    ));
    let agreements = succeeded(&run(&["list", "agreements"], None));
    assert!(
        agreements
            .lines()
            .any(|l| l.starts_with("DDFTA") && l.contains("dorvania,borastria")),
        "{agreements}"
    );
    // Refusals: a profile that does not compile (every error with its line), an agreement
    // naming an unknown member, a member's client calling the operator API.
    let out = run(
        &["put", "profile", "-"],
        Some(b"[profile]\nid = \"x\"\nunknown = 1\n"),
    );
    exits_saying(&out, 1, &out.stderr, "  toml:");
    let out = run(
        &["put", "agreement", "-"],
        Some(b"id = \"X\"\nname = \"x\"\n[[party]]\nmember = \"nobody\"\nprofile = \"canonical-json\"\n[[party]]\nmember = \"borastria\"\nprofile = \"borastria-xml\"\n"),
    );
    exits_saying(&out, 1, &out.stderr, "unknown member \"nobody\"");
    let member = data.join("clients/borastria.toml");
    let out = originhub(
        &[
            "operator",
            "list",
            "members",
            "--client",
            member.to_str().unwrap(),
        ],
        None,
    );
    exits_saying(&out, 1, &out.stderr, "PermissionDenied");
    // A shipped profile again: the same version with the same text changes nothing.
    let shipped = repo().join("profiles/borastria-xml.toml");
    let out = succeeded(&run(
        &["put", "profile", shipped.to_str().unwrap(), "--json"],
        None,
    ));
    let stored: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stored["created"], false, "{out}");

    // The statistics account for every delivery the demo made, all acknowledged.
    let stats: Value = serde_json::from_str(&succeeded(&run(&["stats", "--json"], None))).unwrap();
    let rows = stats.as_array().unwrap();
    let delivered: u64 = rows.iter().map(|r| r["delivered"].as_u64().unwrap()).sum();
    assert_eq!(delivered, summary["delivered"].as_u64().unwrap());
    assert!(rows.iter().all(|r| r["pending"] == 0), "{stats}");
    assert!(
        rows.iter().all(|r| r["acknowledged"] == r["delivered"]),
        "{stats}"
    );

    // A restart imports the config folder again; the member put through the API stays.
    hub.terminate();
    let hub = serve(&data.join("hub.toml"));
    let members = succeeded(&run(&["list", "members"], None));
    assert!(members.contains("dorvania"), "{members}");
    hub.terminate();
}

/// Lines a child process writes to a pipe, read on a thread of their own so a test can wait
/// for the next with a timeout.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(pipe)) {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The next line that contains `expected`, within 30 s.
fn line_saying(lines: &std::sync::mpsc::Receiver<String>, expected: &str) -> String {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(expected) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line saying {expected:?}: {e}"),
        }
    }
}

#[test]
fn inbox_follow_subscribes_again_after_a_hub_restart() {
    let (dir, data, _) = demo_folder("follow", 2);
    let served = serve(&data.join("hub.toml"));
    let inbox = dir.join("inbox");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .args([
            "inbox",
            "--follow",
            "--client",
            data.join("clients/concordia.toml").to_str().unwrap(),
            "--out",
            inbox.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let following = Reaper(Some(follow.id()));
    let saved = lines_of(follow.stdout.take().unwrap());
    let said = lines_of(follow.stderr.take().unwrap());
    // Adjikistan signs and sends a certificate for Concordia under the multilateral agreement.
    let submit = |id: &str| {
        let mut certificate: Value = serde_json::from_slice(
            &std::fs::read(repo().join("profiles/samples/canonical-json.json")).unwrap(),
        )
        .unwrap();
        certificate["id"] = id.into();
        certificate["agreement"] = "FRTA".into();
        certificate["export_country"] = "XA".into();
        certificate["import_country"] = "XC".into();
        let file = dir.join(format!("{id}.json"));
        std::fs::write(&file, certificate.to_string()).unwrap();
        succeeded(&originhub(
            &[
                "submit",
                "--client",
                data.join("clients/adjikistan.toml").to_str().unwrap(),
                "--agreement",
                "FRTA",
                "--profile",
                "canonical-json",
                file.to_str().unwrap(),
            ],
            None,
        ));
    };
    submit("FOLLOW-1");
    line_saying(&saved, "FOLLOW-1 from adjikistan under FRTA");
    // The hub stops: the inbox says so and keeps trying; once the hub is back on the same
    // address, it receives what was sent meanwhile.
    served.terminate();
    line_saying(&said, "lost the hub (Unavailable: the hub is shutting down");
    let served = serve(&data.join("hub.toml"));
    submit("FOLLOW-2");
    line_saying(&saved, "FOLLOW-2 from adjikistan under FRTA");
    stop_with(&mut follow, following, "-INT");
    line_saying(&said, "2 delivery(ies) saved and acknowledged");
    served.terminate();
}

#[test]
fn dev_certs_writes_client_files() {
    let dir = scratch("certs");
    let out = originhub(
        &[
            "dev-certs",
            "--out",
            dir.to_str().unwrap(),
            "--member",
            "Borastria",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let client = std::fs::read_to_string(dir.join("clients/borastria.toml")).unwrap();
    assert!(
        client.contains("hub = \"https://localhost:7443\""),
        "{client}"
    );
    assert!(client.contains("../certs/borastria.pem"), "{client}");
    for name in [
        "ca.pem",
        "hub.pem",
        "hub.key",
        "operator.pem",
        "auditor.key",
    ] {
        assert!(dir.join("certs").join(name).is_file(), "{name}");
    }
    // Private keys are for their owner's eyes only, certificates for anyone's.
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| {
        let path = dir.join("certs").join(name);
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    for key in [
        "ca.key",
        "hub.key",
        "borastria.key",
        "borastria-signing.key",
        "operator.key",
        "auditor.key",
    ] {
        assert_eq!(mode(key), 0o600, "{key}");
    }
    assert_eq!(mode("ca.pem") & 0o044, 0o044, "certificates stay readable");
}

#[test]
fn serve_with_no_config_says_what_its_registry_lacks() {
    // An empty folder: no config, no profiles, members or agreements beside it.
    let dir = scratch("bare-serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_originhub"))
        .arg("serve")
        .current_dir(&dir)
        .env("ORIGINHUB_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reaper = Reaper(Some(child.id()));
    let lines = lines_of(child.stderr.take().unwrap());
    line_saying(&lines, "made development certificates in data/certs");
    line_saying(&lines, "listening on https://127.0.0.1:");
    for kind in ["profiles", "members", "agreements"] {
        let warning = line_saying(&lines, &format!("the hub has no {kind}"));
        let folder = dir.join(kind);
        assert!(
            warning.contains(&format!("the folder {} does not exist", folder.display())),
            "{warning}"
        );
        assert!(warning.contains("originhub operator put"), "{warning}");
    }
    // Right after start-up: the stop signal must already be caught.
    stop_with(&mut child, reaper, "-TERM");
}
