//! Black-box tests of the `eventyard` command line contract (see the module doc of
//! `src/cli.rs`): the binary is run as a child process, fed standard input and
//! temporary files, and its stdout bytes, stderr text and exit status are checked.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one run of the binary produced.
struct Run {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    fn lines(&self) -> Vec<String> {
        self.stdout_text().lines().map(str::to_string).collect()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

/// Runs `eventyard ARGS` with `stdin` as standard input.
/// `eventyard explain --pattern PATTERN --event EVENT`.
fn explain(pattern: &str, event: &str) -> Run {
    run(&["explain", "--pattern", pattern, "--event", event], b"")
}

fn run(args: &[&str], stdin: &[u8]) -> Run {
    run_with_stdout(args, stdin, Stdio::piped())
}

/// Runs `eventyard ARGS` feeding `stdin`, with its standard output going to `stdout`.
fn run_with_stdout(args: &[&str], stdin: &[u8], stdout: Stdio) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventyard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eventyard");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    // Write from another thread so a large input cannot deadlock against a full stdout.
    let writer = std::thread::spawn(move || {
        // The child may exit (e.g. on an invalid pattern) before reading everything.
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().expect("wait for eventyard");
    writer.join().expect("stdin writer");
    Run {
        status: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "eventyard-cli-test-{}-{n}-{nanos}-{tag}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }

    fn arg(&self) -> String {
        self.0.to_str().expect("temp path is UTF-8").to_string()
    }

    /// `@path`, the form `--pattern`, `--rules`, `--sns-policy` and `--event` accept.
    fn at(&self) -> String {
        format!("@{}", self.arg())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn assert_status(r: &Run, want: i32) {
    assert_eq!(r.status, Some(want), "unexpected exit status:\n{r:?}");
}

fn assert_no_stderr(r: &Run) {
    assert!(r.stderr.is_empty(), "unexpected stderr:\n{r:?}");
}

// ---------------------------------------------------------------------------------
// match --pattern
// ---------------------------------------------------------------------------------

#[test]
fn match_prints_matching_lines_byte_for_byte() {
    let input = concat!(
        "{\"x\": 3e2}\n",
        "{\"x\": 301}\n",
        "{ \"x\" :  300.0 , \"y\" : \"keep   spacing\\u0041\" }\n",
        "{\"x\":3.00E+2,\"z\":[1,  2]}\n",
        "{\"x\": \"300\"}\n",
        "   {\"x\": 300}\n",
    );
    let r = run(&["match", "--pattern", r#"{"x":[300]}"#], input.as_bytes());
    assert_status(&r, 0);
    assert_no_stderr(&r);
    let want = concat!(
        "{\"x\": 3e2}\n",
        "{ \"x\" :  300.0 , \"y\" : \"keep   spacing\\u0041\" }\n",
        "{\"x\":3.00E+2,\"z\":[1,  2]}\n",
        "   {\"x\": 300}\n",
    );
    assert_eq!(r.stdout_text(), want);
}

#[test]
fn match_keeps_number_spelling_3e2() {
    let r = run(&["match", "--pattern", r#"{"x":[300]}"#], b"{\"x\": 3e2}\n");
    assert_status(&r, 0);
    assert_eq!(r.stdout, b"{\"x\": 3e2}\n");
}

#[test]
fn match_without_matches_prints_nothing_and_exits_zero() {
    let r = run(
        &["match", "--pattern", r#"{"x":[1]}"#],
        b"{\"x\": 2}\n{\"y\": 1}\n",
    );
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn match_last_line_without_newline_is_still_matched() {
    let r = run(
        &["match", "--pattern", r#"{"x":[1]}"#],
        b"{\"x\": 2}\n{\"x\": 1}",
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout, b"{\"x\": 1}\n");
}

#[test]
fn match_count_prints_only_the_count() {
    let input = b"{\"x\": 1}\n{\"x\": 2}\n{\"x\": 1.0}\n{\"x\": 10e-1}\n";
    for flag in ["--count", "-c"] {
        let r = run(&["match", flag, "--pattern", r#"{"x":[1]}"#], input);
        assert_status(&r, 0);
        assert_no_stderr(&r);
        assert_eq!(r.stdout_text(), "3\n", "{flag}");
    }
    let r = run(&["match", "--count", "--pattern", r#"{"x":[7]}"#], input);
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "0\n");
}

#[test]
fn match_invert_prints_non_matching_lines() {
    let input = b"{\"x\": 1}\n{\"x\": 2}\n{\"y\":  1}\n{\"x\": 1.0}\n";
    for flag in ["--invert-match", "-v"] {
        let r = run(&["match", flag, "--pattern", r#"{"x":[1]}"#], input);
        assert_status(&r, 0);
        assert_no_stderr(&r);
        assert_eq!(r.stdout_text(), "{\"x\": 2}\n{\"y\":  1}\n", "{flag}");
    }
    // like grep -vc: the number of non-matching lines
    let r = run(
        &[
            "match",
            "--invert-match",
            "--count",
            "--pattern",
            r#"{"x":[1]}"#,
        ],
        input,
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "2\n");
}

#[test]
fn match_reads_events_from_a_file_argument() {
    let events = TempFile::new(
        "events.jsonl",
        b"{\"a\": \"x\"}\n{\"a\": \"y\"}\n{\"a\":\"x\" }\n",
    );
    let r = run(
        &["match", "--pattern", r#"{"a":["x"]}"#, &events.arg()],
        b"",
    );
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), "{\"a\": \"x\"}\n{\"a\":\"x\" }\n");
}

#[test]
fn match_missing_events_file_is_an_error() {
    let missing = std::env::temp_dir().join(format!(
        "eventyard-cli-test-{}-no-such-file",
        std::process::id()
    ));
    let r = run(
        &[
            "match",
            "--pattern",
            r#"{"a":["x"]}"#,
            missing.to_str().unwrap(),
        ],
        b"",
    );
    assert_ne!(r.status, Some(0), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.starts_with("error:"), "{r:?}");
}

#[test]
fn match_pattern_from_file() {
    let pattern = TempFile::new(
        "pattern.json",
        b"{\n  \"detail\": {\n    \"total\": [{\"numeric\": [\">\", 100]}]\n  }\n}\n",
    );
    let input = b"{\"detail\": {\"total\": 42}}\n{\"detail\": {\"total\": 1e3}}\n{\"detail\": {\"total\": \"500\"}}\n";
    let r = run(&["match", "--pattern", &pattern.at()], input);
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), "{\"detail\": {\"total\": 1e3}}\n");
}

#[test]
fn match_pattern_file_that_does_not_exist() {
    let missing = format!(
        "@{}",
        std::env::temp_dir()
            .join("eventyard-cli-test-missing-pattern.json")
            .display()
    );
    let r = run(&["match", "--pattern", &missing], b"{\"a\": 1}\n");
    assert_status(&r, 2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.starts_with("error:"), "{r:?}");
}

// ---------------------------------------------------------------------------------
// invalid patterns
// ---------------------------------------------------------------------------------

#[test]
fn invalid_inline_pattern_names_the_path_and_exits_2() {
    let r = run(
        &[
            "match",
            "--pattern",
            r#"{"detail":{"total":[{"numeric":[">=",5,"<=",5]}]}}"#,
        ],
        b"{\"detail\": {\"total\": 5}}\n",
    );
    assert_status(&r, 2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(
        r.stderr,
        "error: invalid pattern pattern: detail.total[0].numeric: bottom must be less than top\n"
    );
}

#[test]
fn invalid_pattern_forms_all_exit_2_with_nothing_on_stdout() {
    let cases: &[(&str, &str)] = &[
        (r#"{"a":[]}"#, "error: invalid pattern pattern: a: "),
        (r#"{"a":"x"}"#, "error: invalid pattern pattern: a: "),
        (
            r#"{"a":[{"prefix": 1}]}"#,
            "error: invalid pattern pattern: a[0].prefix: ",
        ),
        (
            r#"{"a":[{"nope": 1}]}"#,
            "error: invalid pattern pattern: a[0].nope: ",
        ),
        (
            r#"{"a":[{"wildcard": "a**b"}]}"#,
            "error: invalid pattern pattern: a[0].wildcard: ",
        ),
        (
            r#"{"a":[{"cidr": "10.0.0.1/32"}]}"#,
            "error: invalid pattern pattern: a[0].cidr: ",
        ),
        (
            r#"{"$or":[{"a":["x"]}]}"#,
            "error: invalid pattern pattern: $or: ",
        ),
        (
            r#"{"a":[{"anything-but": ["x", 1]}]}"#,
            "error: invalid pattern pattern: a[0].anything-but: ",
        ),
        (r#"{"a": ["x""#, "error: invalid pattern pattern: "),
        (r#"["x"]"#, "error: invalid pattern pattern: "),
    ];
    for (pattern, prefix) in cases {
        let r = run(&["match", "--pattern", pattern], b"{\"a\": \"x\"}\n");
        assert_status(&r, 2);
        assert!(r.stdout.is_empty(), "{pattern}: {r:?}");
        assert!(
            r.stderr.starts_with(prefix),
            "{pattern}: want prefix {prefix:?}\n{r:?}"
        );
        assert_eq!(r.stderr.lines().count(), 1, "{pattern}: {r:?}");
        let reason = &r.stderr[prefix.len()..];
        assert!(
            !reason.trim().is_empty(),
            "{pattern}: no reason given\n{r:?}"
        );
    }
}

#[test]
fn invalid_pattern_file_is_named_by_its_path() {
    let pattern = TempFile::new(
        "bad-pattern.json",
        br#"{"detail":{"total":[{"numeric":[">=",5,"<=",5]}]}}"#,
    );
    let r = run(&["match", "--pattern", &pattern.at()], b"{}\n");
    assert_status(&r, 2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.starts_with("error: invalid pattern "), "{r:?}");
    assert!(r.stderr.contains(&pattern.arg()), "{r:?}");
    assert!(
        r.stderr
            .contains(": detail.total[0].numeric: bottom must be less than top"),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------
// match --rules
// ---------------------------------------------------------------------------------

const RULE_EVENTS: &str = concat!(
    "{\"source\": \"aws.ec2\", \"detail\": {\"state\": \"running\"}}\n",
    "{\"source\": \"aws.s3\"}\n",
    "{\"source\": \"aws.ec2\", \"detail\": {\"state\": \"stopped\"}}\n",
    "{\"other\": true}\n",
);

const RULE_EXPECTED: &str = concat!(
    "[\"Ec2\",\"any-source\",\"running\"]\n",
    "[\"any-source\"]\n",
    "[\"Ec2\",\"any-source\"]\n",
    "[]\n",
);

#[test]
fn rules_object_form_prints_sorted_names_per_line() {
    // declared out of order; output must be sorted (byte order: upper case first)
    let rules = r#"{
        "running": {"detail": {"state": ["running"]}},
        "any-source": {"source": [{"exists": true}]},
        "Ec2": {"source": ["aws.ec2"]}
    }"#;
    let r = run(&["match", "--rules", rules], RULE_EVENTS.as_bytes());
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), RULE_EXPECTED);
}

#[test]
fn rules_array_form_prints_sorted_names_per_line() {
    let rules = r#"[
        {"name": "running", "pattern": {"detail": {"state": ["running"]}}},
        {"name": "any-source", "pattern": {"source": [{"exists": true}]}},
        {"name": "Ec2", "pattern": {"source": ["aws.ec2"]}}
    ]"#;
    let r = run(&["match", "--rules", rules], RULE_EVENTS.as_bytes());
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), RULE_EXPECTED);
}

#[test]
fn rules_from_file_in_both_forms() {
    let object = TempFile::new(
        "rules-object.json",
        br#"{"running": {"detail": {"state": ["running"]}}, "any-source": {"source": [{"exists": true}]}, "Ec2": {"source": ["aws.ec2"]}}"#,
    );
    let array = TempFile::new(
        "rules-array.json",
        br#"[{"name": "running", "pattern": {"detail": {"state": ["running"]}}},
             {"name": "any-source", "pattern": {"source": [{"exists": true}]}},
             {"name": "Ec2", "pattern": {"source": ["aws.ec2"]}}]"#,
    );
    let events = TempFile::new("rule-events.jsonl", RULE_EVENTS.as_bytes());
    for rules in [&object, &array] {
        let r = run(&["match", "--rules", &rules.at(), &events.arg()], b"");
        assert_status(&r, 0);
        assert_no_stderr(&r);
        assert_eq!(r.stdout_text(), RULE_EXPECTED);
    }
}

#[test]
fn rules_output_lines_are_json_arrays_of_strings() {
    let rules = r#"{"quote\"d": {"a": [1]}, "ünï": {"a": [1]}, "plain": {"a": [2]}}"#;
    let r = run(&["match", "--rules", rules], b"{\"a\": 1}\n{\"a\": 2}\n");
    assert_status(&r, 0);
    let lines = r.lines();
    assert_eq!(lines.len(), 2, "{r:?}");
    let first: Vec<String> = serde_json::from_str(&lines[0]).expect("JSON array");
    assert_eq!(first, ["quote\"d", "ünï"]);
    let second: Vec<String> = serde_json::from_str(&lines[1]).expect("JSON array");
    assert_eq!(second, ["plain"]);
}

#[test]
fn rules_count_counts_events_with_at_least_one_match() {
    let rules = r#"{"a": {"source": ["aws.ec2"]}, "b": {"source": [{"prefix": "aws."}]}}"#;
    let r = run(
        &["match", "--count", "--rules", rules],
        RULE_EVENTS.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "3\n");
}

#[test]
fn rules_file_with_an_invalid_rule_exits_2_and_names_it() {
    let object = TempFile::new(
        "rules-bad-object.json",
        br#"{"good": {"a": [1]}, "broken-rule": {"detail": {"total": [{"numeric": [">=", 5, "<=", 5]}]}}, "late": {"a": [1]}}"#,
    );
    let array = TempFile::new(
        "rules-bad-array.json",
        br#"[{"name": "good", "pattern": {"a": [1]}},
             {"name": "broken-rule", "pattern": {"detail": {"total": [{"numeric": [">=", 5, "<=", 5]}]}}},
             {"name": "late", "pattern": {"a": [1]}}]"#,
    );
    for rules in [&object, &array] {
        let r = run(
            &["match", "--rules", &rules.at()],
            b"{\"a\": 1}\n{\"a\": 2}\n",
        );
        assert_status(&r, 2);
        assert!(r.stdout.is_empty(), "{r:?}");
        assert_eq!(
            r.stderr,
            "error: invalid pattern broken-rule: detail.total[0].numeric: bottom must be less than top\n"
        );
    }
}

#[test]
fn malformed_rule_sets_exit_2() {
    let cases = [
        r#"{"a": "#,
        r#""just a string""#,
        r#"[{"name": "a"}]"#,
        r#"[{"pattern": {"a": [1]}}]"#,
        r#"[{"name": 1, "pattern": {"a": [1]}}]"#,
        r#"["x"]"#,
        r#"[{"name": "twice", "pattern": {"a": [1]}}, {"name": "twice", "pattern": {"a": [2]}}]"#,
        r#"{"r": ["not an object"]}"#,
    ];
    for rules in cases {
        let r = run(&["match", "--rules", rules], b"{\"a\": 1}\n");
        assert_status(&r, 2);
        assert!(r.stdout.is_empty(), "{rules}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{rules}: {r:?}");
    }
}

// ---------------------------------------------------------------------------------
// malformed event lines
// ---------------------------------------------------------------------------------

#[test]
fn malformed_lines_are_reported_skipped_and_exit_1() {
    let input = concat!(
        "{\"x\": 1}\n",          // 1 match
        "not json\n",            // 2 bad
        "{\"x\": 1.0}\n",        // 3 match
        "{\"x\": 1\n",           // 4 truncated
        "{\"x\": 2}\n",          // 5 no match
        "[1, 2]\n",              // 6 not an object
        "{\"x\": 1} trailing\n", // 7 garbage after the object
        "{\"x\": 10e-1}\n",      // 8 match
    );
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#], input.as_bytes());
    assert_status(&r, 1);
    assert_eq!(
        r.stdout_text(),
        "{\"x\": 1}\n{\"x\": 1.0}\n{\"x\": 10e-1}\n"
    );
    let errors: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 4, "{r:?}");
    for (line, n) in errors.iter().zip([2, 4, 6, 7]) {
        assert!(line.starts_with("error: "), "{r:?}");
        assert!(
            line.contains(&format!("line {n}")),
            "expected line {n} in {line:?}"
        );
    }
}

#[test]
fn malformed_lines_with_count_and_invert() {
    let input = b"{\"x\": 1}\n{oops\n{\"x\": 2}\n";
    let r = run(&["match", "--count", "--pattern", r#"{"x":[1]}"#], input);
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "1\n");
    assert!(r.stderr.contains("line 2"), "{r:?}");

    // a malformed line is not a "non-matching" line
    let r = run(
        &["match", "--invert-match", "--pattern", r#"{"x":[1]}"#],
        input,
    );
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "{\"x\": 2}\n");
    assert!(r.stderr.contains("line 2"), "{r:?}");
}

#[test]
fn malformed_lines_with_rules_are_skipped() {
    let rules = r#"{"one": {"x": [1]}, "two": {"x": [2]}}"#;
    let input = b"{\"x\": 1}\n{\"x\": \n{\"x\": 2}\n";
    let r = run(&["match", "--rules", rules], input);
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "[\"one\"]\n[\"two\"]\n");
    assert!(r.stderr.contains("line 2"), "{r:?}");
}

#[test]
fn malformed_in_a_field_no_rule_looks_at_is_still_an_error() {
    let input = concat!(
        "{\"x\": 1, \"y\": [1, }\n",
        "{\"x\": 1, \"y\": tru}\n",
        "{\"x\": 1, \"y\": 01}\n",
        "{\"x\": 1, \"y\": \"\\q\"}\n",
        "{\"x\": 1}\n",
    );
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#], input.as_bytes());
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "{\"x\": 1}\n");
    for n in 1..=4 {
        assert!(
            r.stderr.contains(&format!("line {n},")),
            "line {n} not reported:\n{r:?}"
        );
    }
}

#[test]
fn non_utf8_lines_are_reported_and_skipped() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"x\": 1}\n");
    input.extend_from_slice(b"{\"x\": 1, \"s\": \"caf\xe9\"}\n"); // Latin-1 byte, a field no rule reads
    input.extend_from_slice(b"{\"x\": \"\xff\xfe\"}\n");
    input.extend_from_slice(b"\xef\xbb\xbf\xc3\n");
    input.extend_from_slice(b"{\"x\": 1.00}\n");
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#], &input);
    assert_status(&r, 1);
    assert_eq!(r.stdout, b"{\"x\": 1}\n{\"x\": 1.00}\n");
    for n in 2..=4 {
        assert!(
            r.stderr.contains(&format!("line {n},")),
            "line {n} not reported:\n{r:?}"
        );
    }
}

#[test]
fn non_utf8_with_rules_and_invert() {
    let input = b"{\"s\": \"caf\xe9\"}\n{\"s\": \"ok\"}\n";
    let r = run(
        &["match", "--rules", r#"{"r": {"s": [{"prefix": "caf"}]}}"#],
        input,
    );
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "[]\n");
    assert!(r.stderr.contains("line 1,"), "{r:?}");

    let r = run(&["match", "-v", "--pattern", r#"{"s": ["nope"]}"#], input);
    assert_status(&r, 1);
    assert_eq!(r.stdout, b"{\"s\": \"ok\"}\n");
}

#[test]
fn empty_input() {
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#], b"");
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert!(r.stdout.is_empty(), "{r:?}");

    let r = run(&["match", "--count", "--pattern", r#"{"x":[1]}"#], b"");
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "0\n");

    let r = run(&["match", "--rules", r#"{"r": {"x": [1]}}"#], b"");
    assert_status(&r, 0);
    assert!(r.stdout.is_empty(), "{r:?}");

    let empty = TempFile::new("empty.jsonl", b"");
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#, &empty.arg()], b"");
    assert_status(&r, 0);
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    let input = b"\n   \n\t\n{\"x\": 1}\n\n{bad\n\r\n{\"x\": 1 }\n\n";
    let r = run(&["match", "--pattern", r#"{"x":[1]}"#], input);
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "{\"x\": 1}\n{\"x\": 1 }\n");
    let errors: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(errors.len(), 1, "blank lines must not be errors:\n{r:?}");
    assert!(errors[0].contains("line 6,"), "{r:?}");

    // only blank lines: nothing to do, no error
    let r = run(
        &["match", "--count", "--pattern", r#"{"x":[1]}"#],
        b"\n\n  \n",
    );
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), "0\n");

    // blank lines produce no output line with --rules either
    let r = run(
        &["match", "--rules", r#"{"r": {"x": [1]}}"#],
        b"\n{\"x\": 1}\n\n",
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "[\"r\"]\n");
}

// ---------------------------------------------------------------------------------
// large and deep events
// ---------------------------------------------------------------------------------

#[test]
fn one_megabyte_event() {
    let big = format!(
        "{{\"pad\": \"{}\", \"list\": [{}], \"x\": 3e2}}",
        "p".repeat(1 << 20),
        (0..20_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(big.len() > 1_000_000);
    let input = format!("{{\"x\": 1}}\n{big}\n{{\"x\": 300}}\n");

    let r = run(&["match", "--pattern", r#"{"x":[300]}"#], input.as_bytes());
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), format!("{big}\n{{\"x\": 300}}\n"));

    let r = run(
        &[
            "match",
            "--rules",
            r#"{"pad": {"pad": [{"prefix": "ppp"}]}, "list": {"list": [19999]}, "x": {"x": [1]}}"#,
        ],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "[\"x\"]\n[\"list\",\"pad\"]\n[]\n");

    let events = TempFile::new("big.jsonl", input.as_bytes());
    let r = run(
        &[
            "match",
            "--count",
            "--pattern",
            r#"{"pad":[{"suffix":"pp"}]}"#,
            &events.arg(),
        ],
        b"",
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "1\n");
}

fn nested_event(depth: usize) -> String {
    let mut s = String::from("{\"top\": 1, \"deep\": ");
    for _ in 0..depth {
        s.push_str("{\"k\": ");
    }
    s.push_str("\"bottom\"");
    for _ in 0..depth {
        s.push('}');
    }
    s.push_str(", \"arrays\": ");
    s.push_str(&"[".repeat(depth));
    s.push('1');
    s.push_str(&"]".repeat(depth));
    s.push('}');
    s
}

#[test]
fn thousand_level_nested_event() {
    let deep = nested_event(1000);
    let input = format!("{deep}\n{{\"top\": 2}}\n");

    let r = run(&["match", "--pattern", r#"{"top":[1]}"#], input.as_bytes());
    assert_status(&r, 0);
    assert_no_stderr(&r);
    assert_eq!(r.stdout_text(), format!("{deep}\n"));

    // rules that look inside the deep parts
    let rules = r#"{"k": {"deep": {"k": {"k": [{"exists": false}]}}}, "arr": {"arrays": [1]}, "top2": {"top": [2]}}"#;
    let r = run(&["match", "--rules", rules], input.as_bytes());
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "[\"arr\",\"k\"]\n[\"k\",\"top2\"]\n");

    let r = run(
        &["match", "--sns-policy", r#"{"top":[1]}"#, "--scope", "body"],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), format!("{deep}\n"));

    let event = TempFile::new("deep.json", deep.as_bytes());
    let r = explain(r#"{"top":[2]}"#, &event.at());
    assert_status(&r, 1);
    assert!(r.stdout_text().contains("top"), "{r:?}");
}

#[test]
fn very_deep_nesting_does_not_crash() {
    // far beyond any recursion limit a recursive reader would survive
    let deep = nested_event(100_000);
    let input = format!("{deep}\n{{\"top\": 1}}\n");
    let r = run(
        &["match", "--count", "--pattern", r#"{"top":[1]}"#],
        input.as_bytes(),
    );
    assert!(
        r.status == Some(0) || r.status == Some(1),
        "crashed:\n{r:?}"
    );
    assert!(r.stdout_text().ends_with('\n'), "{r:?}");
    if r.status == Some(1) {
        // rejecting the deep line is acceptable, but only with a line-numbered error
        assert_eq!(r.stdout_text(), "1\n");
        assert!(r.stderr.contains("line 1"), "{r:?}");
    } else {
        assert_eq!(r.stdout_text(), "2\n");
    }
}

// ---------------------------------------------------------------------------------
// SNS filter policies
// ---------------------------------------------------------------------------------

#[test]
fn sns_attributes_scope() {
    let input = concat!(
        "{\"store\": {\"Type\": \"String\", \"Value\": \"example_corp\"}, \"price\": {\"Type\": \"Number\", \"Value\": \"300\"}}\n",
        "{\"store\": {\"Type\": \"String\", \"Value\": \"other\"}, \"price\": {\"Type\": \"Number\", \"Value\": \"300\"}}\n",
        "{\"store\": {\"Type\": \"String.Array\", \"Value\": \"[\\\"x\\\", \\\"example_corp\\\"]\"}, \"price\": {\"Type\": \"Number\", \"Value\": \"3e2\"}}\n",
        "{\"store\": {\"DataType\": \"String\", \"StringValue\": \"example_corp\"}, \"price\": {\"DataType\": \"Number\", \"StringValue\": \"150.5\"}}\n",
        "{\"store\": {\"Type\": \"String\", \"Value\": \"example_corp\"}, \"price\": {\"Type\": \"String\", \"Value\": \"300\"}}\n",
        "{\"store\": {\"Type\": \"Binary\", \"Value\": \"ZXhhbXBsZV9jb3Jw\"}, \"price\": {\"Type\": \"Number\", \"Value\": \"300\"}}\n",
    );
    let policy = r#"{"store": ["example_corp"], "price": [{"numeric": [">", 100]}]}"#;
    let r = run(
        &["match", "--sns-policy", policy, "--scope", "attributes"],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_no_stderr(&r);
    let lines: Vec<&str> = input.lines().collect();
    assert_eq!(
        r.stdout_text(),
        format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])
    );

    // attributes is the default scope
    let r = run(&["match", "--sns-policy", policy], input.as_bytes());
    assert_status(&r, 0);
    assert_eq!(
        r.stdout_text(),
        format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])
    );

    let r = run(
        &["match", "--count", "--sns-policy", policy],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "3\n");

    let r = run(
        &["match", "--invert-match", "--sns-policy", policy],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(
        r.stdout_text(),
        format!("{}\n{}\n{}\n", lines[1], lines[4], lines[5])
    );

    let file = TempFile::new("policy.json", policy.as_bytes());
    let r = run(
        &["match", "--sns-policy", &file.at(), "--scope", "attributes"],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(
        r.stdout_text(),
        format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])
    );
}

#[test]
fn sns_attributes_scope_exists_false_and_prefix() {
    let input = concat!(
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n",
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}, \"b\": {\"Type\": \"String\", \"Value\": \"y\"}}\n",
        "{}\n",
    );
    let r = run(
        &["match", "--sns-policy", r#"{"b": [{"exists": false}]}"#],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    // exists:false only matches when at least one attribute is present
    assert_eq!(
        r.stdout_text(),
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n"
    );
}

#[test]
fn sns_body_scope() {
    let input = concat!(
        "{\"order\": {\"store\": \"example_corp\", \"price\": 3e2}}\n",
        "{\"order\": {\"store\": \"example_corp\", \"price\": 50}}\n",
        "{\"order\": {\"store\": \"other\", \"price\": 300}}\n",
        "{\"order\": [{\"store\": \"example_corp\", \"price\": 101}]}\n",
    );
    let policy =
        r#"{"order": {"store": [{"prefix": "example"}], "price": [{"numeric": [">", 100]}]}}"#;
    let r = run(
        &["match", "--sns-policy", policy, "--scope", "body"],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_no_stderr(&r);
    let lines: Vec<&str> = input.lines().collect();
    assert_eq!(r.stdout_text(), format!("{}\n{}\n", lines[0], lines[3]));

    let r = run(
        &["match", "-c", "--sns-policy", policy, "--scope", "body"],
        input.as_bytes(),
    );
    assert_status(&r, 0);
    assert_eq!(r.stdout_text(), "2\n");
}

#[test]
fn sns_invalid_policies_exit_2() {
    let cases: &[(&str, &str, &str)] = &[
        // nested keys are for the body scope only
        (
            r#"{"a": {"b": ["x"]}}"#,
            "attributes",
            "error: invalid pattern pattern: a: ",
        ),
        (
            r#"{"a": [{"wildcard": "x*"}]}"#,
            "body",
            "error: invalid pattern pattern: a[0].wildcard: ",
        ),
        (
            r#"{"a": [{"numeric": [">", 1e10]}]}"#,
            "body",
            "error: invalid pattern pattern: ",
        ),
        (
            r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#,
            "attributes",
            "error: invalid pattern pattern: ",
        ),
        (
            r#"{"a": [{"numeric": [">=", 5, "<=", 5]}]}"#,
            "attributes",
            "error: invalid pattern pattern: a[0].numeric: ",
        ),
    ];
    for (policy, scope, prefix) in cases {
        let r = run(
            &["match", "--sns-policy", policy, "--scope", scope],
            b"{}\n",
        );
        assert_status(&r, 2);
        assert!(r.stdout.is_empty(), "{policy}: {r:?}");
        assert!(
            r.stderr.starts_with(prefix),
            "{policy}: want {prefix:?}\n{r:?}"
        );
        assert!(
            r.stderr.len() > prefix.len() + 1,
            "{policy}: no reason\n{r:?}"
        );
    }
}

#[test]
fn sns_malformed_lines_are_reported_and_skipped() {
    let attrs = concat!(
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n",
        "{\"a\": \n",
        "{\"a\": \"not an attribute object\"}\n",
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n",
    );
    let r = run(
        &["match", "--sns-policy", r#"{"a": ["x"]}"#],
        attrs.as_bytes(),
    );
    assert_status(&r, 1);
    assert_eq!(
        r.stdout_text(),
        "{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n{\"a\": {\"Type\": \"String\", \"Value\": \"x\"}}\n"
    );
    assert!(r.stderr.contains("line 2"), "{r:?}");
    assert!(r.stderr.contains("line 3"), "{r:?}");

    let body = "{\"a\": \"x\"}\n{\"a\": \"x\"\n{\"a\": \"x\"}\n";
    let r = run(
        &[
            "match",
            "--sns-policy",
            r#"{"a": ["x"]}"#,
            "--scope",
            "body",
        ],
        body.as_bytes(),
    );
    assert_status(&r, 1);
    assert_eq!(r.stdout_text(), "{\"a\": \"x\"}\n{\"a\": \"x\"}\n");
    assert!(r.stderr.contains("line 2"), "{r:?}");
}

#[test]
fn sns_attributes_non_utf8_line_is_reported() {
    let input = b"{\"a\": {\"Type\": \"String\", \"Value\": \"x\xff\"}}\n{\"a\": {\"Type\": \"String\", \"Value\": \"xy\"}}\n";
    let r = run(
        &["match", "--sns-policy", r#"{"a": [{"prefix": "x"}]}"#],
        input,
    );
    assert_status(&r, 1);
    assert_eq!(
        r.stdout,
        b"{\"a\": {\"Type\": \"String\", \"Value\": \"xy\"}}\n"
    );
    assert!(r.stderr.contains("line 1"), "{r:?}");
}

/// The contract: a line that is not UTF-8 is an error naming its line number, is
/// skipped, and makes the exit status 1 — for every kind of filter.
#[test]
fn sns_body_non_utf8_line_is_reported() {
    let input = b"{\"a\": \"x\xff\"}\n{\"a\": \"xy\"}\n";
    let r = run(
        &[
            "match",
            "--sns-policy",
            r#"{"a": [{"prefix": "x"}]}"#,
            "--scope",
            "body",
        ],
        input,
    );
    assert_eq!(
        r.stdout, b"{\"a\": \"xy\"}\n",
        "a non-UTF-8 line was printed as a match:\n{r:?}"
    );
    assert!(
        r.stderr.contains("line 1"),
        "no error for the non-UTF-8 line:\n{r:?}"
    );
    assert_status(&r, 1);
}

// ---------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------

#[test]
fn explain_text_names_the_failing_field_and_why() {
    let pattern = r#"{"source": ["aws.ec2"], "detail": {"total": [{"numeric": [">", 100]}]}}"#;
    let r = explain(pattern, r#"{"source": "aws.ec2", "detail": {"total": 42}}"#);
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("NO MATCH"), "{r:?}");
    let failing: Vec<&str> = text.lines().filter(|l| l.contains("FAIL")).collect();
    assert_eq!(failing.len(), 1, "{r:?}");
    assert!(failing[0].contains("detail.total"), "{r:?}");
    assert!(
        failing[0].contains("42"),
        "the reason should quote the event's value:\n{r:?}"
    );
    assert!(failing[0].contains("no alternative matches"), "{r:?}");
    assert!(
        text.lines()
            .any(|l| l.contains("source") && !l.contains("FAIL")),
        "{r:?}"
    );
}

#[test]
fn explain_text_reasons_for_missing_and_wrong_type() {
    let r = explain(r#"{"detail": {"state": ["running"]}}"#, r#"{"detail": {}}"#);
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("detail.state"), "{r:?}");
    assert!(text.contains("no value"), "{r:?}");

    let r = explain(r#"{"n": [{"numeric": ["<", 5]}]}"#, r#"{"n": "3"}"#);
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("n [{\"numeric\":[\"<\",5]}]"), "{r:?}");
    assert!(
        text.contains("string"),
        "wrong-type reason should name the type:\n{r:?}"
    );

    let r = explain(r#"{"a": [{"exists": false}]}"#, r#"{"a": 1}"#);
    assert_status(&r, 1);
    assert!(r.stdout_text().contains("absent"), "{r:?}");
}

#[test]
fn explain_text_array_consistency() {
    let r = explain(
        r#"{"items": {"name": ["a"], "qty": [2]}}"#,
        r#"{"items": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}]}"#,
    );
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("FAIL"), "{r:?}");
    assert!(text.contains("same array element"), "{r:?}");
}

#[test]
fn explain_match_exits_zero() {
    let r = run(
        &[
            "explain",
            "--pattern",
            r#"{"x": [300]}"#,
            "--event",
            r#"{"x": 3e2}"#,
            "--name",
            "my-rule",
        ],
        b"",
    );
    assert_status(&r, 0);
    let text = r.stdout_text();
    assert!(text.starts_with("rule my-rule: MATCH"), "{r:?}");
    assert!(!text.contains("FAIL"), "{r:?}");
}

#[test]
fn explain_or_branches() {
    let pattern = r#"{"$or": [{"a": ["x"]}, {"b": [{"prefix": "y"}], "c": [1]}]}"#;
    let r = explain(pattern, r#"{"b": "yes", "c": 2}"#);
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("$or branch 1 of 2"), "{r:?}");
    assert!(text.contains("$or branch 2 of 2"), "{r:?}");
    assert!(text.contains("closest"), "{r:?}");
    assert!(text.contains("FAIL c [1]"), "{r:?}");

    let r = explain(pattern, r#"{"b": "yes", "c": 1}"#);
    assert_status(&r, 0);
}

#[test]
fn explain_json_has_matched_and_branches() {
    let pattern = r#"{"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 1]}]}]}"#;
    for (event, matched) in [
        (r#"{"a": "y", "b": 0}"#, false),
        (r#"{"a": "y", "b": 2}"#, true),
    ] {
        let r = run(
            &["explain", "--json", "--pattern", pattern, "--event", event],
            b"",
        );
        assert_status(&r, if matched { 0 } else { 1 });
        let v: serde_json::Value =
            serde_json::from_slice(&r.stdout).expect("explain --json prints JSON");
        assert_eq!(v["matched"], serde_json::Value::Bool(matched), "{r:?}");
        let branches = v["branches"].as_array().expect("branches is an array");
        assert_eq!(branches.len(), 2, "{r:?}");
        for b in branches {
            assert!(b["matched"].is_boolean(), "{r:?}");
            assert!(b["fields"].is_array(), "{r:?}");
        }
        let fields = branches[1]["fields"].as_array().unwrap();
        assert_eq!(fields[0]["path"], "b", "{r:?}");
        assert_eq!(
            branches[1]["matched"],
            serde_json::Value::Bool(matched),
            "{r:?}"
        );
    }
}

#[test]
fn explain_reads_pattern_and_event_files() {
    let pattern = TempFile::new(
        "explain-pattern.json",
        br#"{"detail": {"state": ["running"]}}"#,
    );
    let event = TempFile::new(
        "explain-event.json",
        b"{\"detail\": {\"state\": \"stopped\"}}\n",
    );
    let r = explain(&pattern.at(), &event.at());
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(text.contains("detail.state"), "{r:?}");
    assert!(text.contains("\"stopped\""), "{r:?}");
}

#[test]
fn explain_invalid_pattern_exits_2() {
    let r = explain(
        r#"{"detail":{"total":[{"numeric":[">=",5,"<=",5]}]}}"#,
        r#"{"detail": {"total": 5}}"#,
    );
    assert_status(&r, 2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(
        r.stderr,
        "error: invalid pattern pattern: detail.total[0].numeric: bottom must be less than top\n"
    );
}

#[test]
fn explain_invalid_event_is_an_error() {
    let r = explain(r#"{"a": [1]}"#, r#"{"a": "#);
    assert_eq!(r.status, Some(2), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.starts_with("error:"), "{r:?}");
}

#[test]
fn match_keeps_crlf_line_endings_like_grep() {
    let r = run(
        &["match", "--pattern", r#"{"a":[1]}"#],
        b"{\"a\":1}\r\n{\"a\":2}\r\n{\"a\":1}",
    );
    assert_eq!(r.status, Some(0), "{r:?}");
    assert_eq!(r.stdout, b"{\"a\":1}\r\n{\"a\":1}\n".to_vec(), "{r:?}");
}

#[test]
fn empty_top_level_key_nests_like_in_events() {
    // {"": {"d": ...}} is the path ".d", as the event {"": {"d": 1}} is.
    let r = run(
        &["match", "--pattern", r#"{"": {"d": [1]}}"#],
        b"{\"\": {\"d\": 1}}\n{\"d\": 1}\n",
    );
    assert_eq!(r.status, Some(0), "{r:?}");
    assert_eq!(r.stdout, b"{\"\": {\"d\": 1}}\n".to_vec(), "{r:?}");
}

#[test]
fn explain_sns_policy_both_scopes() {
    let policy = r#"{"store": ["example_corp"], "price": [{"numeric": [">", 100]}]}"#;
    let r = run(
        &[
            "explain",
            "--sns-policy",
            policy,
            "--scope",
            "attributes",
            "--event",
            r#"{"store": {"Type": "String", "Value": "example_corp"}, "price": {"Type": "Number", "Value": "50"}}"#,
        ],
        b"",
    );
    assert_status(&r, 1);
    let text = r.stdout_text();
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL") && l.contains("price")),
        "{r:?}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.contains("FAIL") && l.contains("store")),
        "{r:?}"
    );

    let r = run(
        &[
            "explain",
            "--sns-policy",
            policy,
            "--event",
            r#"{"store": {"Type": "String", "Value": "example_corp"}, "price": {"Type": "Number", "Value": "500"}}"#,
        ],
        b"",
    );
    assert_status(&r, 0);

    let body_policy = r#"{"order": {"price": [{"numeric": [">", 100]}]}}"#;
    let r = run(
        &[
            "explain",
            "--json",
            "--sns-policy",
            body_policy,
            "--scope",
            "body",
            "--event",
            r#"{"order": {"price": 5}}"#,
        ],
        b"",
    );
    assert_status(&r, 1);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).expect("JSON");
    assert_eq!(v["matched"], serde_json::Value::Bool(false));
    assert_eq!(v["branches"][0]["fields"][0]["path"], "order.price");

    let r = run(
        &[
            "explain",
            "--sns-policy",
            body_policy,
            "--scope",
            "body",
            "--event",
            r#"{"order": {"price": 500}}"#,
        ],
        b"",
    );
    assert_status(&r, 0);

    let r = run(
        &[
            "explain",
            "--sns-policy",
            r#"{"a": {"b": ["x"]}}"#,
            "--scope",
            "attributes",
            "--event",
            "{}",
        ],
        b"",
    );
    assert_status(&r, 2);
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(
        r.stderr.starts_with("error: invalid pattern pattern: a: "),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------
// closed output pipe (`eventyard ... | head`)
// ---------------------------------------------------------------------------------

/// Runs `eventyard ARGS` with stdout connected to a pipe whose read end is already
/// closed, so every write fails with EPIPE (as under `| head` once head has exited).
fn run_into_closed_pipe(args: &[&str], stdin: &[u8]) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    run_with_stdout(args, stdin, Stdio::from(writer))
}

#[test]
fn match_into_a_closed_pipe_ends_quietly() {
    let line = format!("{{\"a\": \"{}\"}}\n", "x".repeat(10_000));
    let input = line.repeat(50);
    let r = run_into_closed_pipe(
        &["match", "--pattern", r#"{"a":[{"prefix":"x"}]}"#],
        input.as_bytes(),
    );
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    assert_eq!(r.status, Some(0), "{r:?}");
}

/// `explain` must not panic when its reader goes away (`eventyard explain ... | head`).
#[test]
fn explain_into_a_closed_pipe_does_not_panic() {
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec![
            "explain",
            "--pattern",
            r#"{"a":[1]}"#,
            "--event",
            r#"{"a": 1}"#,
        ];
        args.extend_from_slice(extra);
        let r = run_into_closed_pipe(&args, b"");
        assert!(
            !r.stderr.contains("panicked"),
            "explain {extra:?} panicked on a closed pipe:\n{r:?}"
        );
        assert!(r.status.is_some(), "killed by a signal: {r:?}");
        assert_ne!(r.status, Some(101), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------
// usage
// ---------------------------------------------------------------------------------

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["match"][..],
        &["match", "--pattern", "{}", "--rules", "{}"][..],
        &["match", "--pattern", r#"{"a":[1]}"#, "--scope", "nowhere"][..],
        &["explain", "--pattern", r#"{"a":[1]}"#][..],
        &["frobnicate"][..],
    ] {
        let r = run(args, b"");
        assert_status(&r, 2);
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
        assert!(!r.stderr.is_empty(), "{args:?}: {r:?}");
    }
}

#[test]
fn pattern_size_limit_is_configurable() {
    let big = format!(r#"{{"a":["{}"]}}"#, "x".repeat(3000));
    let r = run(&["match", "--pattern", &big], b"{\"a\":\"b\"}\n");
    assert_eq!(r.status, Some(2), "{r:?}");
    assert!(r.stderr.contains("the limit is 2048"), "{r:?}");
    let r = run(
        &["match", "--max-pattern-chars", "5000", "--pattern", &big],
        b"{\"a\":\"b\"}\n",
    );
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}
