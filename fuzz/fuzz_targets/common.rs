//! Fixtures shared by the fuzz targets: representative rules and SNS policies.
#![allow(dead_code)]

use std::sync::OnceLock;

use eventyard::pattern::sns::{FilterPolicy, Scope};
use eventyard::pattern::{Matcher, Pattern};

/// ~20 representative EventBridge patterns (one per operator family, plus `$or`,
/// `exists: false`, and array-of-objects consistency).
pub const RULES: &[(&str, &str)] = &[
    ("exact", r#"{"source":["aws.ec2","aws.s3"]}"#),
    ("exact-nested-num", r#"{"detail":{"state":["running"],"count":[5,3e2,-0.5]}}"#),
    ("literals", r#"{"detail":{"flag":[true,null],"off":[false]}}"#),
    ("exactly-dotted", r#"{"detail":{"a.b":[{"exactly":"x"}],"ip":["192.168.1.1"]}}"#),
    ("prefix", r#"{"detail":{"name":[{"prefix":"prod-"}]}}"#),
    ("suffix", r#"{"detail":{"name":[{"suffix":".png"}],"source":[{"suffix":""}]}}"#),
    ("eic", r#"{"detail-type":[{"equals-ignore-case":"EC2 Instance State-change Notification"},{"equals-ignore-case":"ÉTÉ ß Σ"}]}"#),
    ("prefix-eic", r#"{"detail":{"name":[{"prefix":{"equals-ignore-case":"PROD"}}]}}"#),
    ("suffix-eic", r#"{"detail":{"name":[{"suffix":{"equals-ignore-case":".JPG"}}]}}"#),
    ("ab-strings", r#"{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}"#),
    ("ab-numbers", r#"{"detail":{"code":[{"anything-but":[404,500.0,1e3]}]}}"#),
    ("ab-prefix", r#"{"source":[{"anything-but":{"prefix":"aws."}}]}"#),
    ("ab-suffix-eic", r#"{"detail":{"name":[{"anything-but":{"suffix":["-dev","-test"]}},{"anything-but":{"equals-ignore-case":["ADMIN","Root"]}}]}}"#),
    ("ab-wildcard", r#"{"resources":[{"anything-but":{"wildcard":"arn:*:test-*"}}]}"#),
    ("numeric-range", r#"{"detail":{"price":[{"numeric":[">",0,"<=",100.5]}]}}"#),
    ("numeric-eq-lt", r#"{"detail":{"price":[{"numeric":["=",42]},{"numeric":["<",-1e3]}],"count":[{"numeric":[">=",1e9]}]}}"#),
    ("exists-true", r#"{"detail":{"user":[{"exists":true}]}}"#),
    ("exists-false", r#"{"source":["aws.ec2"],"detail":{"error":[{"exists":false}]}}"#),
    ("exists-false-or-value", r#"{"detail":{"error":[{"exists":false},"none"]}}"#),
    ("wildcard", r#"{"resources":[{"wildcard":"arn:aws:s3:::*/*.jpg"},{"wildcard":"*\\*literal"}]}"#),
    ("cidr", r#"{"detail":{"ip":[{"cidr":"10.0.0.0/24"},{"cidr":"2001:db8::/32"}]}}"#),
    ("or", r#"{"$or":[{"source":["aws.ec2"]},{"detail":{"count":[{"numeric":[">",10]}]}},{"detail-type":[{"prefix":"EC2"}],"detail":{"state":[{"exists":false}]}}]}"#),
    ("array-consistency", r#"{"detail":{"items":{"sku":["A1","B2"],"qty":[{"numeric":[">=",2]}]}}}"#),
    ("nested-or-arrays", r#"{"detail":{"$or":[{"items":{"sku":[{"prefix":"B"}],"tags":{"env":["prod"]}}},{"items":{"tags":{"env":[{"exists":false}]},"qty":[0]}}]}}"#),
];

/// SNS filter policies in both scopes.
pub const POLICIES: &[(&str, Scope)] = &[
    (
        r#"{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"price_usd":[{"numeric":[">=",100]}]}"#,
        Scope::MessageAttributes,
    ),
    (
        r#"{"$or":[{"customer_interests":["rugby",{"prefix":"foot"}]},{"encrypted":[{"exists":false}]}]}"#,
        Scope::MessageAttributes,
    ),
    (
        r#"{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}],"detail":{"ip":[{"cidr":"10.0.0.0/8"}],"n":[{"exists":true}]}}"#,
        Scope::MessageBody,
    ),
];

pub struct Fixture {
    pub matcher: Matcher,
    pub patterns: Vec<(&'static str, Pattern)>,
    pub policies: Vec<FilterPolicy>,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut matcher = Matcher::new();
        let mut patterns = Vec::new();
        for &(name, text) in RULES {
            let pattern = Pattern::parse(text).unwrap_or_else(|e| panic!("fixture rule {name}: {e}"));
            matcher.add_pattern(name, pattern.clone());
            patterns.push((name, pattern));
        }
        let policies = POLICIES
            .iter()
            .map(|&(text, scope)| FilterPolicy::parse(text, scope).unwrap_or_else(|e| panic!("fixture policy {text}: {e}")))
            .collect();
        Fixture { matcher, patterns, policies }
    })
}

/// A few fixed events that touch the fields the fixtures and the seed corpus use.
pub const EVENTS: &[&[u8]] = &[
    br#"{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{"state":"running","name":"prod-web.png","count":5,"price":42,"ip":"10.0.0.7","user":null,"flag":true},"resources":["arn:aws:s3:::bucket/a.jpg"]}"#,
    br#"{"detail":{"items":[{"sku":"A1","qty":1},{"sku":"B2","qty":3,"tags":{"env":"prod"}}],"code":404,"a":{"b":"x"}},"x":[1,[2,[3,{"y":"z"}]]]}"#,
    br#"{"source":["aws.s3",300,true,null,{"k":"v"}],"detail":{"error":"boom","name":"ADMIN","price":[-1e4,100.5,0]}}"#,
];

/// Sorted names of the rules among `ids`.
pub fn names_of<'m>(matcher: &'m Matcher, ids: &[eventyard::pattern::RuleId]) -> Vec<&'m str> {
    let mut names: Vec<&str> = ids.iter().map(|&id| matcher.rule_name(id)).collect();
    names.sort_unstable();
    names
}
