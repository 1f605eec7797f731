use super::query::{parse, parse_list_entry};
use super::*;

fn matcher(query: &str) -> Matcher {
    let mut builder = MatcherBuilder::new();
    for (name, entries) in [
        (
            "dprk",
            &["North Korea", "DPRK", "북한*", "КНДР", "Северн* Коре*"][..],
        ),
        ("russia", &["Russia*", "Moscow", "러시아*", "Росси*"][..]),
    ] {
        let entries = entries
            .iter()
            .map(|e| ListEntry {
                label: (*e).to_owned(),
                words: parse_list_entry(e).expect("valid entry"),
            })
            .collect();
        builder.add_list(name, entries);
    }
    add_query(&mut builder, query);
    builder.build()
}

/// Adds an indicator of one query, no boosts, `min_score` 1.
pub(super) fn add_query(builder: &mut MatcherBuilder, query: &str) {
    let expr = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    builder
        .add_indicator(
            Clause {
                text: query,
                expr: &expr,
            },
            &[],
            1.0,
        )
        .unwrap_or_else(|e| panic!("{query}: {e:?}"));
}

fn fires(query: &str, title: &str, summary: &str) -> bool {
    let m = matcher(query);
    let item = ItemText {
        title,
        summary,
        ..ItemText::default()
    };
    let fired = !m.match_item(&item, &mut m.scratch()).is_empty();
    // The explanation walks the query as written, the matcher its compiled form: they must
    // agree on every case of every table that uses this.
    let explained = m.explain(&item, 0);
    assert_eq!(
        explained.fired, fired,
        "{query} on {title:?} / {summary:?}: {explained:#?}"
    );
    fired
}

#[test]
fn every_operator_behaves_as_documented() {
    // (query, title, summary, fires)
    let cases: &[(&str, &str, &str, bool)] = &[
        // words match whole words only, case- and accent-insensitively
        ("ICBM", "North Korea tests ICBM", "", true),
        ("ICBM", "North Korea tests ICBMs", "", false),
        ("ICBM*", "North Korea tests ICBMs", "", true),
        ("icbm", "ＩＣＢＭ test", "", true),
        ("cafe", "Café talks", "", true),
        ("launch", "relaunch of talks", "", false),
        // phrases: consecutive words, hyphens and spaces alike
        ("\"Kim Jong-un\"", "Kim Jong Un meets Putin", "", true),
        ("\"Kim Jong Un\"", "Kim Jong-un meets Putin", "", true),
        ("Jong-un", "Kim Jong Un", "", true),
        ("\"Kim Jong Un\"", "Kim met Jong Un", "", false),
        ("\"north korea\"", "north\nkorea", "", true),
        // phrases never run across fields
        (
            "\"korea launches\"",
            "North Korea",
            "launches a satellite",
            false,
        ),
        // prefixes, including Korean particles and Russian endings
        ("launch*", "Pyongyang launched", "", true),
        ("북한*", "북한은 정찰위성을 발사했다", "", true),
        ("북한*", "남북한", "", false),
        ("спутник*", "КНДР вывела спутника", "", true),
        ("\"Северн* Коре*\"", "Запуск в Северной Корее", "", true),
        ("\"Северн* Коре*\"", "Северной армии Кореи", "", false),
        ("\"노동자* 파견*\"", "북한 노동자를 파견했다", "", true),
        // lists
        ("@dprk", "КНДР", "", true),
        ("@dprk AND @russia", "북한과 러시아가 협력", "", true),
        ("@dprk AND @russia", "북한과 중국이 협력", "", false),
        // boolean operators, implicit AND, precedence
        ("satellite launch", "launch of a satellite", "", true),
        ("satellite launch", "satellite photos", "", false),
        ("satellite AND launch", "satellite photos", "", false),
        ("satellite OR launch", "satellite photos", "", true),
        ("satellite NOT missile", "satellite and missile", "", false),
        ("satellite NOT missile", "satellite only", "", true),
        (
            "satellite AND NOT (missile OR ICBM)",
            "satellite ICBM",
            "",
            false,
        ),
        ("a b OR c", "c", "", true),
        ("a b OR c", "a", "", false),
        ("(a OR b) c", "b c", "", true),
        // NEAR: either order, within n words, same field
        (
            "satellite NEAR/3 launch",
            "launch of the satellite",
            "",
            true,
        ),
        (
            "satellite NEAR/2 launch",
            "launch of the satellite",
            "",
            false,
        ),
        ("satellite NEAR/1 launch", "satellite launch", "", true),
        ("satellite NEAR/5 launch", "satellite", "launch", false),
        (
            "@dprk NEAR/4 (satellite OR 위성*)",
            "북한 정찰 위성을",
            "",
            true,
        ),
        (
            "(\"Kim Jong Un\") NEAR/2 Putin",
            "Kim Jong Un and Putin",
            "",
            true,
        ),
        (
            "(satellite NEAR/2 launch) NEAR/3 Sohae",
            "Sohae site: satellite launch",
            "",
            true,
        ),
        // NEAR keeps to one sentence or list entry of a headline.
        (
            "grain NEAR/3 Russia",
            "Missiles fired. Russia sends grain",
            "",
            true,
        ),
        (
            "grain NEAR/3 Russia",
            "Tests of grain. Russia sends",
            "",
            false,
        ),
        (
            "grain NEAR/3 Russia",
            "Tests of grain; Russia sends",
            "",
            false,
        ),
        (
            "grain NEAR/3 Russia",
            "Tests of grain / Russia sends",
            "",
            false,
        ),
        (
            "grain NEAR/3 Russia",
            "Tests of grain ▲Russia sends",
            "",
            false,
        ),
        ("粮食 NEAR/3 俄罗斯", "朝鲜粮食。俄罗斯", "", false),
        ("粮食 NEAR/3 俄罗斯", "朝鲜粮食，俄罗斯", "", true),
        // A headline's commas are breaks when it lists three stories or more.
        (
            "grain NEAR/3 Korea",
            "Tests by North Korea, grain for Africa, aid",
            "",
            false,
        ),
        (
            "grain NEAR/3 Korea",
            "Tests by North Korea, grain for Africa",
            "",
            true,
        ),
        // A stop after an initial or an abbreviation is not a sentence end.
        ("Korea NEAR/2 launch", "N. Korea launch", "", true),
        ("Kim NEAR/2 Gen", "Gen. Kim said", "", true),
        ("Korea NEAR/2 Kim", "in Korea. Kim said", "", false),
        // Chinese and Japanese characters count half a word between NEAR's sides, rounded
        // up: four characters are two words, five are three.
        ("朝鲜 NEAR/3 发射", "朝鲜当天凌晨发射卫星", "", true),
        ("朝鲜 NEAR/2 发射", "朝鲜当天凌晨发射卫星", "", false),
        ("朝鲜 NEAR/3 发射", "朝鲜当天凌晨再发射卫星", "", false),
        ("朝鲜 NEAR/4 发射", "朝鲜当天凌晨再发射卫星", "", true),
        ("朝鲜 NEAR/1 发射", "朝鲜发射卫星", "", true),
        (
            "北朝鮮 NEAR/3 打ち上げ",
            "北朝鮮が偵察衛星を打ち上げ",
            "",
            false,
        ),
        (
            "北朝鮮 NEAR/4 打ち上げ",
            "北朝鮮が偵察衛星を打ち上げ",
            "",
            true,
        ),
        // Beside other words, each of those still counts one.
        (
            "@dprk NEAR/2 satellite",
            "North Korea 的 satellite",
            "",
            true,
        ),
        (
            "@dprk NEAR/2 satellite",
            "North Korea said its satellite",
            "",
            false,
        ),
        ("@dprk NEAR/3 卫星", "North Korea says 新卫星", "", true),
        // fields
        ("title:satellite", "satellite", "", true),
        ("title:satellite", "", "satellite", false),
        ("summary:(satellite launch)", "satellite", "launch", false),
        ("summary:(satellite launch)", "", "satellite launch", true),
        // regex escape hatch, on the display text
        ("/Malligyong-\\d+/", "Malligyong-2 in orbit", "", true),
        ("/(?i)malligyong/", "MALLIGYONG", "", true),
        ("/malligyong/", "MALLIGYONG", "", false),
        ("title:/\\d{4}/", "", "in 2026", false),
    ];
    for (query, title, summary, want) in cases {
        assert_eq!(
            fires(query, title, summary),
            *want,
            "query {query:?} on title {title:?} summary {summary:?}"
        );
    }
}

#[test]
fn compile_errors_name_the_bad_token() {
    let cases: &[(&str, &str, &str)] = &[
        ("@nolist", "@nolist", "unknown list '@nolist'"),
        ("/a(/", "/a(/", "invalid regex"),
        ("a NEAR/3 NOT b", "NOT b", "NOT cannot be used inside NEAR"),
        ("NOT a", "NOT a", "none of its terms"),
        ("a OR NOT b", "a OR NOT b", "none of its terms"),
    ];
    for (query, token, message) in cases {
        let expr = parse(query).expect("parses");
        let mut builder = MatcherBuilder::new();
        let err = builder
            .add_indicator(
                Clause {
                    text: query,
                    expr: &expr,
                },
                &[],
                1.0,
            )
            .expect_err(query);
        assert!(
            err.error.message.contains(message),
            "{query}: {:?}",
            err.error.message
        );
        assert_eq!(&query[err.error.span.start..err.error.span.end], *token);
    }
}

#[test]
fn list_entries_another_entry_already_matches_are_kept_once() {
    let mut builder = MatcherBuilder::new();
    let entries = [
        "Kursk",
        "KURSK",
        "Kursk*",
        "Курск*",
        "Курская",
        "Северн* Коре*",
        "северная корея",
    ]
    .iter()
    .map(|e| ListEntry {
        label: (*e).to_owned(),
        words: parse_list_entry(e).expect("valid entry"),
    })
    .collect();
    builder.add_list("places", entries);
    let expr = parse("@places").expect("parses");
    builder
        .add_indicator(
            Clause {
                text: "@places",
                expr: &expr,
            },
            &[],
            1.0,
        )
        .expect("compiles");
    let m = builder.build();
    let item = ItemText {
        title: "Kursk, Курская область: Северная Корея",
        ..ItemText::default()
    };
    let hits = m.match_item(&item, &mut m.scratch());
    let terms: Vec<&str> = hits[0].evidence.terms.iter().map(|t| &*t.term).collect();
    assert_eq!(
        terms,
        [
            "@places: Kursk*",
            "@places: Курск*",
            "@places: Северн* Коре*"
        ],
        "each text once, named by the entry that covers the others"
    );
}

#[test]
fn a_list_past_the_pairwise_limit_compiles_and_drops_only_exact_repeats() {
    let mut builder = MatcherBuilder::new();
    let mut entries: Vec<ListEntry> = (0..10_000)
        .map(|i| format!("term{i}"))
        .chain(["term7".to_owned(), "term7*".to_owned()])
        .map(|e| ListEntry {
            words: parse_list_entry(&e).expect("valid entry"),
            label: e,
        })
        .collect();
    entries.reverse();
    builder.add_list("huge", entries);
    let expr = parse("@huge").expect("parses");
    builder
        .add_indicator(
            Clause {
                text: "@huge",
                expr: &expr,
            },
            &[],
            1.0,
        )
        .expect("compiles");
    let m = builder.build();
    let item = ItemText {
        title: "term9999 and term7",
        ..ItemText::default()
    };
    let hits = m.match_item(&item, &mut m.scratch());
    let mut terms: Vec<&str> = hits[0].evidence.terms.iter().map(|t| &*t.term).collect();
    terms.sort_unstable();
    // Past the limit `term7*` does not absorb `term7`: both stay, each once.
    assert_eq!(terms, ["@huge: term7", "@huge: term7*", "@huge: term9999"]);
}

#[test]
fn an_unknown_list_suggests_the_name_that_was_probably_meant() {
    let entries = |label: &str| {
        vec![ListEntry {
            label: label.into(),
            words: crate::matcher::query::parse_list_entry(label).expect("entry"),
        }]
    };
    let mut builder = MatcherBuilder::new();
    builder.add_list("russia", entries("Russia"));
    builder.add_list("dprk", entries("DPRK"));
    builder.add_list("sat_object", entries("satellite"));
    for (query, suggestion) in [
        ("@rusia", "did you mean '@russia'?"),
        ("@Russia", "did you mean '@russia'?"),
        ("@sat", "did you mean '@sat_object'?"),
        ("@ukraine", "3 lists are defined"),
        // A name far longer than any list's costs no quadratic comparison, and gets none.
        (&*format!("@{}", "r".repeat(100_000)), "3 lists are defined"),
    ] {
        let expr = parse(query).expect("parses");
        let err = builder
            .add_indicator(
                Clause {
                    text: query,
                    expr: &expr,
                },
                &[],
                1.0,
            )
            .expect_err(query);
        assert!(
            err.error.message.contains(suggestion),
            "{query}: {}",
            err.error.message
        );
        assert!(
            !err.error.message.contains("@dprk"),
            "{}",
            err.error.message
        );
    }
}

#[test]
fn boosts_add_to_the_score_and_min_score_gates_the_hit() {
    let mut builder = MatcherBuilder::new();
    let query = parse("satellite").expect("parses");
    let (sites, spacex) = (
        parse("Sohae OR Vostochny").expect("parses"),
        parse("SpaceX").expect("parses"),
    );
    let boosts = [
        (
            Clause {
                text: "Sohae OR Vostochny",
                expr: &sites,
            },
            0.5,
        ),
        (
            Clause {
                text: "SpaceX",
                expr: &spacex,
            },
            -2.0,
        ),
    ];
    builder
        .add_indicator(
            Clause {
                text: "satellite",
                expr: &query,
            },
            &boosts,
            1.2,
        )
        .expect("compiles");
    let m = builder.build();
    let score = |title: &str| {
        let item = ItemText {
            title,
            ..ItemText::default()
        };
        m.match_item(&item, &mut m.scratch())
            .first()
            .map(|h| h.score)
    };
    assert_eq!(score("satellite"), None, "1.0 is below min_score 1.2");
    assert_eq!(score("satellite from Sohae"), Some(1.5));
    assert_eq!(score("SpaceX satellite from Sohae"), None);
}

#[test]
fn evidence_offsets_slice_the_display_text_exactly() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "@dprk AND launch*",
            "",
            "Pyongyang: North Korea launched a satellite",
        ),
        (
            "@dprk AND 정찰위성*",
            "",
            "북한은 23일 정찰위성을 발사했다고 밝혔다",
        ),
        (
            "@dprk AND спутник*",
            "",
            "КНДР вывела на орбиту спутник «Маллигён»",
        ),
        (
            "\"Kim Jong-un\"",
            "",
            "Leader Kim Jong‑un (with a non-breaking hyphen)",
        ),
        ("cafe", "", "Pokémon and Café\u{301}s at the café"),
        ("/\\d+ tons/", "", "shipped 4,000 tons of refined oil"),
        (
            "(\"Северн* Коре*\") NEAR/3 нефт*",
            "",
            "Россия поставила Северной Корее нефть",
        ),
    ];
    for (query, title, summary) in cases {
        let m = matcher(query);
        let item = ItemText {
            title,
            summary,
            ..ItemText::default()
        };
        let hits = m.match_item(&item, &mut m.scratch());
        assert_eq!(hits.len(), 1, "{query} on {summary}");
        let evidence = &hits[0].evidence;
        assert!(!evidence.terms.is_empty());
        for term in &evidence.terms {
            assert_eq!(
                &item.get(term.field)[term.start..term.end],
                term.text.as_str()
            );
            assert!(!term.text.trim().is_empty());
        }
        let snippet = evidence.snippet.as_ref().expect("a snippet");
        for &(start, end) in &snippet.highlights {
            let marked = &snippet.text[start..end];
            assert!(
                evidence.terms.iter().any(|t| t.text == marked),
                "highlight {marked:?} is no matched term"
            );
        }
    }
}

#[test]
fn evidence_on_html_input_points_into_the_stripped_text() {
    let display = crate::text::html_to_text(
        "<p>North&nbsp;Korea <b>launched</b> a &lt;reconnaissance&gt; satellite</p>",
    );
    let m = matcher("@dprk launch* satellite");
    let item = ItemText {
        summary: &display,
        ..ItemText::default()
    };
    let hits = m.match_item(&item, &mut m.scratch());
    let texts: Vec<&str> = hits[0]
        .evidence
        .terms
        .iter()
        .map(|t| &display[t.start..t.end])
        .collect();
    assert_eq!(texts, ["North Korea", "launched", "satellite"]);
}

#[test]
fn long_text_snippets_stay_near_the_densest_match() {
    let filler = "Weather report: mild winds and sunshine across the region today. ".repeat(10);
    let summary =
        format!("{filler}Pyongyang said North Korea will launch a satellite soon. {filler}");
    let m = matcher("@dprk AND launch AND satellite");
    let item = ItemText {
        summary: &summary,
        ..ItemText::default()
    };
    let hits = m.match_item(&item, &mut m.scratch());
    let snippet = hits[0].evidence.snippet.as_ref().expect("snippet");
    assert!(snippet.text.contains("North Korea will launch a satellite"));
    assert!(snippet.text.starts_with('…') && snippet.text.ends_with('…'));
    assert!(snippet.text.chars().count() <= 204);
    assert_eq!(snippet.highlights.len(), 3);
}

#[test]
fn one_scratch_serves_many_items_without_leaking_state() {
    let m = matcher("satellite NOT missile");
    let mut scratch = m.scratch();
    let item = |title| ItemText {
        title,
        ..ItemText::default()
    };
    let near = matcher("(satellite OR orbit) NEAR/2 launch*");
    let mut near_scratch = near.scratch();
    for _ in 0..3 {
        assert_eq!(
            near.match_item(&item("satellite launch"), &mut near_scratch)
                .len(),
            1
        );
        assert_eq!(
            near.match_item(&item("launch far from the satellite"), &mut near_scratch)
                .len(),
            0
        );
        assert_eq!(near.match_item(&item("launch"), &mut near_scratch).len(), 0);
        assert_eq!(m.match_item(&item("satellite"), &mut scratch).len(), 1);
        assert_eq!(
            m.match_item(&item("satellite missile"), &mut scratch).len(),
            0
        );
        assert_eq!(m.match_item(&item("nothing here"), &mut scratch).len(), 0);
    }
}

mod properties {
    use proptest::prelude::*;

    use super::super::query::parse;
    use super::super::{Clause, ItemText, MatcherBuilder};
    use crate::text::Analyzed;
    use crate::text::Field;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_query_parser_never_panics(query in "\\PC{0,60}") {
            let _ = parse(&query);
        }

        #[test]
        fn query_like_strings_parse_or_fail_cleanly(
            query in r#"[()"/@*: a-zA-Z0-9ORANDNOTEAR/]{0,40}"#
        ) {
            if let Ok(expr) = parse(&query) {
                let mut builder = MatcherBuilder::new();
                let added = builder
                    .add_indicator(Clause { text: &query, expr: &expr }, &[], 1.0)
                    .is_ok();
                let matcher = builder.build();
                let item = ItemText { title: &query, ..ItemText::default() };
                let fired = !matcher.match_item(&item, &mut matcher.scratch()).is_empty();
                if added {
                    prop_assert_eq!(matcher.explain(&item, 0).fired, fired);
                }
            }
        }

        #[test]
        fn the_normaliser_never_panics_and_ranges_are_valid(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let mut analyzed = Analyzed::default();
            analyzed.push_field(Field::Summary, &text);
            prop_assert!(std::str::from_utf8(&analyzed.norm).is_ok());
            for token in &analyzed.tokens {
                prop_assert!(text.is_char_boundary(token.disp_start as usize));
                prop_assert!(text.is_char_boundary(token.disp_end as usize));
                prop_assert!(token.disp_start < token.disp_end);
                let folded = &analyzed.norm[token.norm_start as usize..token.norm_end as usize];
                let folded = std::str::from_utf8(folded);
                prop_assert!(folded.is_ok(), "words are UTF-8");
                let folded = folded.unwrap_or_default();
                prop_assert!(!folded.is_empty() && !folded.contains([' ', '\n']));
            }
        }

        #[test]
        fn html_stripping_never_panics(text in "\\PC{0,200}") {
            let _ = crate::text::html_to_text(&text);
        }
    }
}

/// An indicator with boosts over lists named as the shipped file names them.
fn indicator(query: &str, boosts: &[(&str, f64)], min_score: f64) -> Matcher {
    let mut builder = MatcherBuilder::new();
    for (name, entries) in [
        ("launch_verb", &["launch*", "발사*", "запуст*"][..]),
        ("sat_object", &["satellite", "위성*", "спутник*"][..]),
        ("imagery", &["satellite imagery", "images"][..]),
        ("russia", &["Russia*", "Moscow"][..]),
        ("dprk", &["North Korea", "북한*"][..]),
    ] {
        let entries = entries
            .iter()
            .map(|e| ListEntry {
                label: (*e).to_owned(),
                words: parse_list_entry(e).expect("valid entry"),
            })
            .collect();
        builder.add_list(name, entries);
    }
    let expr = parse(query).expect("query parses");
    let boost_exprs: Vec<_> = boosts
        .iter()
        .map(|(text, _)| parse(text).expect("boost parses"))
        .collect();
    let clauses: Vec<_> = boosts
        .iter()
        .zip(&boost_exprs)
        .map(|((text, weight), expr)| (Clause { text, expr }, *weight))
        .collect();
    builder
        .add_indicator(
            Clause {
                text: query,
                expr: &expr,
            },
            &clauses,
            min_score,
        )
        .expect("compiles");
    builder.build()
}

fn titled(title: &str) -> ItemText<'_> {
    ItemText {
        title,
        ..ItemText::default()
    }
}

#[test]
fn explanation_of_a_hit_shows_each_node_true_with_the_text_it_matched() {
    let m = matcher_for_launch();
    let item = titled("North Korea launched a satellite");
    let e = m.explain(&item, 0);
    assert_eq!(e.verdict, Verdict::Fired);
    assert!(e.fired && e.failed.is_empty());
    assert_eq!(e.reason, "fired: score 1.0 ≥ min_score 1.0");
    let tree = &e.query.tree;
    assert_eq!((tree.op, tree.value), (explain::Op::And, true));
    assert_eq!(tree.text, "@launch_verb AND @sat_object");
    let launch = &tree.children[0];
    assert_eq!(
        (launch.op, launch.text.as_str()),
        (explain::Op::Term, "@launch_verb")
    );
    assert_eq!(&*launch.matches[0].term, "@launch_verb: launch*");
    assert_eq!(launch.matches[0].text, "launched");
    assert_eq!(
        &item.title[launch.matches[0].start..launch.matches[0].end],
        "launched"
    );
}

fn matcher_for_launch() -> Matcher {
    indicator("@launch_verb AND @sat_object", &[], 1.0)
}

#[test]
fn a_false_query_names_the_required_operand_that_found_nothing() {
    let m = matcher_for_launch();
    let e = m.explain(&titled("North Korea launched a rocket"), 0);
    assert_eq!(e.verdict, Verdict::QueryFalse);
    assert!(!e.fired);
    assert_eq!(e.reason, "query false: '@sat_object' found nothing");
    assert_eq!(e.failed.len(), 1);
    assert_eq!((e.failed[0].start, e.failed[0].end), (17, 28));
    assert!(e.query.tree.children[0].value);
    assert!(!e.query.tree.children[1].value);

    // A grouped branch is named as written, and says when part of it occurred.
    let m = indicator(
        "@sat_object AND (@launch_verb OR (@russia AND help))",
        &[],
        1.0,
    );
    let e = m.explain(&titled("a satellite on display"), 0);
    assert_eq!(
        e.reason,
        "query false: '@launch_verb OR (@russia AND help)' found nothing"
    );
    let e = m.explain(&titled("a satellite shown in Moscow"), 0);
    assert_eq!(
        e.reason,
        "query false: '@launch_verb OR (@russia AND help)' is false \
         ('@launch_verb' found nothing; 'help' found nothing)"
    );
}

#[test]
fn a_true_query_under_min_score_names_the_demoting_boost() {
    let m = indicator(
        "@sat_object",
        &[("title:(@launch_verb)", 0.5), ("@imagery", -1.0)],
        1.0,
    );
    let item = titled("Satellite imagery shows a new pad");
    assert!(m.match_item(&item, &mut m.scratch()).is_empty());
    let e = m.explain(&item, 0);
    assert_eq!(e.verdict, Verdict::BelowMinScore);
    assert!(e.query.value);
    assert_eq!(e.score, 0.0);
    assert_eq!(
        e.reason,
        "query true but score 0.0 < min_score 1.0: demoted by boost '@imagery' (-1.0); \
         boosts that did not apply: 'title:(@launch_verb)' (+0.5)"
    );
    let demoted: Vec<&str> = e.demoted_by().map(|b| &*b.query).collect();
    assert_eq!(demoted, ["@imagery"]);
    assert_eq!(
        e.score_breakdown().summary(),
        "query 1.0 − '@imagery' 1.0 = 0.0 < min_score 1.0"
    );
}

#[test]
fn near_not_and_field_nodes_explain_what_made_them_false() {
    let m = indicator("title:(satellite) NEAR/2 launch* NOT missile", &[], 1.0);
    let cases = [
        (
            "satellite to launch, and a missile",
            "query false: 'NOT missile' is false: found \"missile\"",
        ),
        (
            "satellite went far away before the launch",
            "query false: 'title:(satellite) NEAR/2 launch*' is false: 'title:(satellite)' and \
             'launch*' both occur, but not within 2 words in one sentence",
        ),
        (
            "launch day",
            "query false: 'title:(satellite)' found nothing",
        ),
    ];
    for (title, reason) in cases {
        let e = m.explain(&titled(title), 0);
        assert_eq!(e.reason, reason, "{title}");
    }
    // The satellite only in the summary: the field restriction is what fails.
    let item = ItemText {
        title: "launch day",
        summary: "a satellite",
        ..ItemText::default()
    };
    let e = m.explain(&item, 0);
    assert_eq!(e.reason, "query false: 'title:(satellite)' found nothing");
    let near = &e.query.tree.children[0];
    assert_eq!((near.op, near.distance), (explain::Op::Near, Some(2)));
    let field = &near.children[0];
    assert_eq!(
        (field.op, field.field, field.text.as_str()),
        (explain::Op::Field, Some(Field::Title), "title:(satellite)")
    );
    let e = m.explain(&titled("satellite launch today"), 0);
    assert!(e.fired, "{e:#?}");
    let not = &e.query.tree.children[1];
    assert_eq!((not.op, not.value), (explain::Op::Not, true));
}

#[test]
fn list_terms_are_explained_by_the_entry_that_matched() {
    let m = indicator("@dprk AND @sat_object", &[], 1.0);
    let e = m.explain(&titled("북한은 위성을 발사했다"), 0);
    assert!(e.fired);
    let entries: Vec<(&str, &str)> = e
        .query
        .tree
        .children
        .iter()
        .flat_map(|c| &c.matches)
        .map(|f| (&*f.term, f.text.as_str()))
        .collect();
    assert_eq!(
        entries,
        [("@dprk: 북한*", "북한은"), ("@sat_object: 위성*", "위성을")]
    );
}

#[test]
fn indicators_that_are_not_candidates_are_explained_too() {
    let m = indicator("@launch_verb AND @sat_object", &[], 1.0);
    let all = m.explain_all(&titled("weather report"));
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].reason,
        "query false: '@launch_verb' found nothing; '@sat_object' found nothing"
    );
}

#[test]
fn the_explanation_json_has_the_documented_shape() {
    let m = indicator("@sat_object", &[("@imagery", -1.0)], 1.0);
    let e = m.explain(&titled("satellite imagery"), 0);
    let value = serde_json::to_value(&e).expect("serialises");
    assert_eq!(value["verdict"], "below_min_score");
    assert_eq!(value["fired"], false);
    assert_eq!(value["query"]["text"], "@sat_object");
    assert_eq!(value["query"]["tree"]["op"], "term");
    assert_eq!(value["query"]["tree"]["matches"][0]["text"], "satellite");
    assert_eq!(value["query"]["tree"]["matches"][0]["field"], "title");
    assert_eq!(value["query"]["tree"]["children"], serde_json::json!([]));
    assert_eq!(value["boosts"][0]["query"], "@imagery");
    assert_eq!(value["boosts"][0]["weight"], -1.0);
    assert_eq!(value["boosts"][0]["applied"], true);
    assert_eq!(value["base_score"], 1.0);
    assert_eq!(value["score"], 0.0);
    assert_eq!(value["min_score"], 1.0);
    assert_eq!(value["failed"], serde_json::json!([]));
}

#[test]
fn demoting_terms_are_marked_and_kept_out_of_the_highlights() {
    let m = indicator(
        "@sat_object",
        &[("title:(@launch_verb)", 0.5), ("@imagery OR pad", -1.0)],
        0.5,
    );
    let item = ItemText {
        title: "Launch of a satellite",
        summary: "Satellite imagery shows the pad",
        ..ItemText::default()
    };
    let hits = m.match_item(&item, &mut m.scratch());
    assert_eq!(hits.len(), 1);
    let evidence = &hits[0].evidence;
    let roles: Vec<(&str, Role)> = evidence
        .terms
        .iter()
        .map(|t| (t.text.as_str(), t.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("Launch", Role::Supporting),
            ("satellite", Role::Supporting),
            ("Satellite", Role::Supporting),
            ("Satellite imagery", Role::Demoting),
            ("pad", Role::Demoting),
        ]
    );
    let snippet = evidence.snippet.as_ref().expect("snippet");
    let marked = |ranges: &[(usize, usize)]| -> Vec<String> {
        ranges
            .iter()
            .map(|&(s, e)| snippet.text[s..e].to_owned())
            .collect()
    };
    assert!(!marked(&snippet.highlights).contains(&"pad".to_owned()));
    assert_eq!(snippet.field, Field::Summary);
    assert_eq!(marked(&snippet.highlights), ["Satellite"]);
    assert_eq!(marked(&snippet.demoting), ["Satellite imagery", "pad"]);
    let score = evidence.score.as_ref().expect("breakdown");
    assert_eq!(
        score.summary(),
        "query 1.0 + 'title:(@launch_verb)' 0.5 − '@imagery OR pad' 1.0 = 0.5 ≥ min_score 0.5"
    );
    // The hit and the explanation tell the same score.
    assert_eq!(m.explain(&item, 0).score_breakdown(), *score);
}

#[test]
fn evidence_stored_before_the_score_breakdown_still_reads() {
    let old = r#"{"terms":[{"term":"satellite","field":"title","start":2,"end":11,"text":"satellite"}],
        "snippet":{"field":"title","start":0,"end":11,"text":"a satellite","highlights":[[2,11]]}}"#;
    let evidence: Evidence = serde_json::from_str(old).expect("old evidence reads");
    assert_eq!(evidence.terms[0].role, Role::Supporting);
    assert_eq!(evidence.score, None);
    assert!(evidence.snippet.expect("snippet").demoting.is_empty());
}

#[test]
fn matching_and_identifying_in_one_pass_changes_neither_hits_nor_language() {
    let m = matcher("@dprk AND @russia");
    let mut scratch = m.scratch();
    let long_korean = "북한과 러시아는 정찰위성 협력을 논의했다. ".repeat(20);
    let cases: [(&str, &str, &str); 5] = [
        (
            "North Korea and Russia sign a pact",
            "Officials said the talks went on.",
            "",
        ),
        (
            "КНДР и Россия",
            "",
            "Власти сообщили, что переговоры продолжатся в Москве.",
        ),
        ("", "", &long_korean),
        (
            "北朝鮮",
            "북한 Russia",
            "Unused content: the summary is the body.",
        ),
        ("", "", ""),
    ];
    for (title, summary, content) in cases {
        let item = ItemText {
            title,
            summary,
            content,
            ..ItemText::default()
        };
        let alone = m.match_item(&item, &mut scratch);
        let (hits, lang) = m.match_and_identify(&item, &mut scratch);
        assert_eq!(hits, alone, "{title}");
        let body = if summary.is_empty() { content } else { summary };
        assert_eq!(lang, crate::text::lang::detect(title, body), "{title}");
        // And after an item with identification, matching alone is as before.
        assert_eq!(m.match_item(&item, &mut scratch), alone, "{title}");
    }
}

/// Every indicator evaluated plainly on an item: no candidates or triggers, no shared values,
/// no kept list answers, every term's occurrences collected. What the fast paths of
/// `match_item` must reproduce, hit for hit and byte for byte.
fn plain_hits(m: &Matcher, item: &ItemText<'_>) -> Vec<Hit> {
    fn value(m: &Matcher, node: &Node, item: &ItemText<'_>, scratch: &mut Scratch) -> bool {
        match node {
            Node::Term(_) => {
                let mut found = Vec::new();
                spans(m, node, item, scratch, &mut found);
                !found.is_empty()
            }
            Node::And(items) => items.iter().all(|n| value(m, n, item, scratch)),
            Node::Or(items) => items.iter().any(|n| value(m, n, item, scratch)),
            Node::Not(inner) => !value(m, inner, item, scratch),
            Node::Shared(_, inner) => value(m, inner, item, scratch),
            Node::Near(distance, left, right) => {
                let (mut lefts, mut rights) = (Vec::new(), Vec::new());
                spans(m, left, item, scratch, &mut lefts);
                spans(m, right, item, scratch, &mut rights);
                lefts.iter().any(|a| {
                    rights
                        .iter()
                        .any(|b| plain_within(scratch, item, a, b, *distance))
                })
            }
        }
    }
    /// Whether two occurrences are within `limit` words, counted word by word (a Chinese or
    /// Japanese character half a word, the halves rounded up; 1 when adjacent, 0 when they
    /// overlap), in one field, with no gap between their words ending a sentence or a list
    /// entry.
    fn plain_within(
        scratch: &Scratch,
        item: &ItemText<'_>,
        a: &Occurrence,
        b: &Occurrence,
        limit: u32,
    ) -> bool {
        if a.field != b.field {
            return false;
        }
        let (before, after) = if a.last_token < b.first_token {
            (a, b)
        } else if b.last_token < a.first_token {
            (b, a)
        } else {
            return true;
        };
        let analyzed = &scratch.analyzed;
        let halves: u32 = (before.last_token + 1..after.first_token)
            .map(|t| {
                let token = &analyzed.tokens[t as usize];
                let word = &analyzed.norm[token.norm_start as usize..token.norm_end as usize];
                if crate::text::is_unspaced_word(word) {
                    1
                } else {
                    2
                }
            })
            .sum();
        if halves.div_ceil(2) + 1 > limit {
            return false;
        }
        let text = item.get(before.field);
        !(before.last_token..after.first_token).any(|t| {
            let (word, next) = (
                &analyzed.tokens[t as usize],
                &analyzed.tokens[t as usize + 1],
            );
            crate::text::segments::gap_ends_segment(
                before.field,
                text,
                &text[word.disp_start as usize..word.disp_end as usize],
                &text[word.disp_end as usize..next.disp_start as usize],
            )
        })
    }
    fn spans(
        m: &Matcher,
        node: &Node,
        item: &ItemText<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Occurrence>,
    ) {
        match node {
            // A list is every member in its order, not only those whose first pattern the
            // scan listed; each scratch is fresh, so nothing kept is from another item.
            Node::Term(term) => match &m.terms[*term as usize].kind {
                TermKind::Any(members) => {
                    for &member in members {
                        m.term_occurrences(member, item, scratch);
                        out.extend_from_slice(&scratch.term_occurrences[member as usize]);
                    }
                }
                TermKind::Segments(_) | TermKind::Regex(_) => {
                    m.term_occurrences(*term, item, scratch);
                    out.extend_from_slice(&scratch.term_occurrences[*term as usize]);
                }
            },
            Node::Or(items) => items.iter().for_each(|n| spans(m, n, item, scratch, out)),
            Node::And(items) => {
                if items.iter().all(|n| value(m, n, item, scratch)) {
                    items.iter().for_each(|n| spans(m, n, item, scratch, out));
                }
            }
            Node::Near(distance, left, right) => {
                let (mut lefts, mut rights) = (Vec::new(), Vec::new());
                spans(m, left, item, scratch, &mut lefts);
                spans(m, right, item, scratch, &mut rights);
                for a in &lefts {
                    for b in &rights {
                        if plain_within(scratch, item, a, b, *distance) {
                            out.push(a.joined(b));
                        }
                    }
                }
            }
            Node::Shared(_, inner) => spans(m, inner, item, scratch, out),
            Node::Not(_) => {}
        }
    }

    let mut scratch = m.scratch();
    m.find_occurrences(item, &mut scratch, false);
    let mut hits = Vec::new();
    for (index, indicator) in m.indicators.iter().enumerate() {
        if !value(m, &indicator.query, item, &mut scratch) {
            continue;
        }
        let applied: Vec<bool> = indicator
            .boosts
            .iter()
            .map(|boost| value(m, &boost.node, item, &mut scratch))
            .collect();
        let mut score = BASE_SCORE;
        for (boost, _) in indicator.boosts.iter().zip(&applied).filter(|(_, a)| **a) {
            score += boost.weight;
        }
        if score + SCORE_EPSILON < indicator.min_score {
            continue;
        }
        let mut evidence = m.evidence(item, indicator, &applied, &mut scratch);
        evidence.score = Some(indicator.breakdown(&applied, score));
        hits.push(Hit {
            indicator: index,
            score,
            evidence,
        });
    }
    hits
}

/// Items of the labelled sets and of the real feed corpus, as (title, summary, content).
fn real_items() -> Vec<(String, String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut items = Vec::new();
    let labelled = [
        root.join("../shared/labelled/news_dev.jsonl"),
        root.join("tests/data/news_own.jsonl"),
        root.join("tests/data/dev.jsonl"),
        root.join("tests/data/eval-small.jsonl"),
    ];
    for path in &labelled {
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("{} is missing: its items are left out", path.display());
            continue;
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| value[name].as_str().unwrap_or("").to_owned();
            items.push((field("title"), field("summary"), String::new()));
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("../shared/corpus/feeds")) {
        let mut paths: Vec<_> = entries.map_while(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("a corpus file");
            let Ok(feed) = crate::parse::parse_feed(&bytes, None, "https://example.org/feed")
            else {
                continue;
            };
            items.extend(
                feed.items
                    .into_iter()
                    .map(|item| (item.title, item.summary, item.content)),
            );
        }
    }
    assert!(items.len() > 500, "only {} items found", items.len());
    items
}

/// The shipped rules' variants in the shapes the fast paths treat apart: a broad query
/// narrowed by one word or a NEAR (its triggers those two), a NOT over the narrowing (the
/// broad query's triggers), a query whose triggers NOT hides (every term then), and a NEAR
/// between lists.
fn variant_rules(shipped: &crate::config::Indicators) -> crate::config::Indicators {
    const NARROWING: [&str; 6] = ["said", "Seoul", "위성*", "заяв*", "launch*", "officials"];
    let indicators: Vec<_> = (0..24)
        .map(|n| {
            let original = &shipped.indicators[n % shipped.indicators.len()];
            let narrow = NARROWING[n % NARROWING.len()];
            let query = match n / shipped.indicators.len() % 4 {
                0 => format!(
                    "(({}) AND {narrow}) OR (marker{n} NEAR/3 signal*)",
                    original.query
                ),
                1 => format!("({}) AND NOT {narrow}", original.query),
                2 => format!("NOT (NOT ({}) OR NOT {narrow})", original.query),
                _ => format!(
                    "(@dprk NEAR/6 ({narrow} OR @russia)) AND ({})",
                    original.query
                ),
            };
            serde_json::json!({
                "id": format!("{}_v{n}", original.id),
                "title": original.title,
                "insight": original.insight,
                "severity": original.severity,
                "query": query,
                "boost": original.boosts.iter()
                    .map(|(q, w)| serde_json::json!({"query": q, "weight": w}))
                    .collect::<Vec<_>>(),
                "min_score": original.min_score,
            })
        })
        .collect();
    let text = serde_json::json!({"lists": shipped.lists, "indicators": indicators}).to_string();
    crate::config::Indicators::parse(&text, std::path::Path::new("variants.yaml"))
        .expect("the variants compile")
}

/// Rules in the shapes the evaluator answers without the plain walk: boosts whose terms are
/// all absent, lists known absent from the scan, NEAR between terms and alternatives of terms
/// read in place (with phrases, field scopes and a regex among them), nested NEAR, and
/// subtrees shared between clauses and indicators.
fn shape_rules(shipped: &crate::config::Indicators) -> crate::config::Indicators {
    const NEAR_PAIR: &str = "(@dprk NEAR/3 @russia)";
    let rules: [(&str, &[&str]); 4] = [
        (
            "@dprk OR @russia",
            &[
                "zzabsent AND zzmissing",
                "zzabsent OR @nowhere",
                NEAR_PAIR,
                "(@dprk NEAR/5 @russia) NEAR/2 (@sat_object OR launch*)",
                "(@dprk OR \"Kim Jong Un\") NEAR/10 (@russia OR title:Moscow)",
                "title:(@dprk) NEAR/2 summary:(@russia)",
                "(@dprk NEAR/3 @russia) AND NOT (@south_korea NEAR/3 @russia)",
                "@south_korea AND NOT (zzabsent OR @dprk)",
                "/\\d+호기/ NEAR/4 (@dprk OR @nowhere)",
            ],
        ),
        (
            "(@dprk NEAR/3 @russia) OR (@russia NEAR/1 (said OR says))",
            &[
                "(@dprk NEAR/5 @russia) NEAR/2 (@sat_object OR launch*)",
                "@nowhere NEAR/3 @dprk",
                "(@dprk NEAR/3 @russia) AND NOT (@south_korea NEAR/3 @russia)",
            ],
        ),
        (
            "(@south_korea OR @dprk) NEAR/8 (@russia OR \"North Korea\")",
            &[
                "NOT (zzabsent AND @dprk)",
                "(@dprk NEAR/3 @russia) NEAR/3 (@south_korea NEAR/3 @russia)",
            ],
        ),
        (
            "title:(@nowhere OR @dprk) AND @russia",
            &["@nowhere", "title:(@russia)"],
        ),
    ];
    let mut lists = shipped.lists.clone();
    lists.insert(
        "nowhere".to_owned(),
        vec!["zzabsent".to_owned(), "zz nowhere*".to_owned()],
    );
    let base = &shipped.indicators[0];
    let indicators: Vec<_> = rules
        .iter()
        .enumerate()
        .map(|(n, (query, boosts))| {
            serde_json::json!({
                "id": format!("shape_{n}"),
                "title": base.title,
                "insight": base.insight,
                "severity": base.severity,
                "query": query,
                "boost": boosts.iter()
                    .enumerate()
                    .map(|(b, q)| serde_json::json!({"query": q, "weight": if b % 2 == 0 { 0.25 } else { -0.25 }}))
                    .collect::<Vec<_>>(),
                "min_score": 0.5,
            })
        })
        .collect();
    let text = serde_json::json!({"lists": lists, "indicators": indicators}).to_string();
    crate::config::Indicators::parse(&text, std::path::Path::new("shapes.yaml"))
        .expect("the shapes compile")
}

/// The item of a (title, summary, content) triple of [`real_items`] or [`hostile_items`].
fn item_of((title, summary, content): &(String, String, String)) -> ItemText<'_> {
    ItemText {
        title,
        summary,
        content,
        ..ItemText::default()
    }
}

/// Items built to reach the fast paths' corners: many occurrences of both sides of a NEAR,
/// near and far, in several fields; phrases cut short; lists' first words without the rest.
fn hostile_items() -> Vec<(String, String, String)> {
    let mut items = vec![
        (
            "North Korea Russia ".repeat(300),
            "Russia ".repeat(500) + &"North Korea ".repeat(500),
            "Moscow said ".repeat(200),
        ),
        (
            "Kim Jong Moscow Seoul Russia".to_owned(),
            "North Korea and Russia sign; South Korea protests in Seoul".to_owned(),
            "3호기 북한 ".repeat(50),
        ),
        (
            "zz nowhere Russia North".to_owned(),
            "Korea North Korea".to_owned(),
            "satellite launch North Korea Russia satellite".to_owned(),
        ),
    ];
    // Each gap between the two sides, either order, around the NEAR distances used.
    for gap in 0..12 {
        let filler = "word ".repeat(gap);
        items.push((
            format!("North Korea {filler}Russia"),
            format!("Seoul {filler}Moscow {filler}North Korea launch satellite"),
            format!("Russia {filler}Kim Jong Un {filler}says"),
        ));
    }
    items
}

#[test]
fn hits_match_every_indicator_evaluated_plainly_on_real_items() {
    let shipped = super::scan_tests::shipped();
    let variants = variant_rules(&shipped);
    let shapes = shape_rules(&shipped);
    let mut items = real_items();
    items.extend(hostile_items());
    for rules in [&shipped, &variants, &shapes] {
        let m = &rules.matcher;
        // One scratch for every item, as the pipeline keeps it.
        let mut scratch = m.scratch();
        let mut fired = 0;
        for owned in &items {
            let item = item_of(owned);
            let hits = m.match_item(&item, &mut scratch);
            let plain = plain_hits(m, &item);
            assert_eq!(hits, plain, "{:?} / {:?}", item.title, item.summary);
            assert_eq!(
                serde_json::to_string(&hits).expect("json"),
                serde_json::to_string(&plain).expect("json"),
            );
            fired += hits.len();
        }
        // The comparison means something only if the rules fire on some of these items.
        assert!(fired > 50, "only {fired} hits");
    }
}

#[test]
fn a_list_answer_kept_for_one_item_is_not_read_for_the_next() {
    let m = indicator(
        "satellite AND (@dprk OR launch)",
        &[("@dprk", 0.5), ("NOT @dprk", -0.5)],
        1.5,
    );
    let mut scratch = m.scratch();
    // With and without the list's member, in turns, on one scratch: each item's answer is
    // its own.
    for round in 0..6 {
        let title = if round % 2 == 0 {
            "North Korea satellite"
        } else {
            "satellite launch"
        };
        let hits = m.match_item(&titled(title), &mut scratch);
        assert_eq!(hits.len(), usize::from(round % 2 == 0), "{title}");
    }
    // The last item, the sixth, left the list absent. When the count of items comes round,
    // the sixth item after is not the one before.
    scratch.generation = u32::MAX;
    for _ in 0..5 {
        assert!(m.match_item(&titled("weather"), &mut scratch).is_empty());
    }
    assert_eq!(scratch.generation, 5);
    let hits = m.match_item(&titled("North Korea satellite"), &mut scratch);
    assert_eq!(hits.len(), 1);
}

/// What the evidence comparison met, so that it can say it met each case it is about.
#[derive(Debug, Default)]
struct EvidenceCases {
    /// Evidence built the short way, and built plainly because only the plain order could say
    /// which of two equal terms stays.
    short: usize,
    plain: usize,
    /// Hits with a term both supporting and demoting at one place.
    both_roles: usize,
    /// Hits with a term that has more occurrences than evidence takes.
    capped: usize,
    /// Hits where two terms of one label text matched at one place.
    shared_label: usize,
}

/// Every indicator whose query is true on the item (whatever its score): the evidence
/// `Matcher::evidence` makes must be the evidence `Evidence::new` makes of every matched term
/// collected plainly.
fn assert_evidence_agrees(m: &Matcher, item: &ItemText<'_>, cases: &mut EvidenceCases) {
    let mut scratch = m.scratch();
    m.find_occurrences(item, &mut scratch, false);
    for indicator in &m.indicators {
        if !m.eval(&indicator.query, item, &mut scratch) {
            continue;
        }
        let applied: Vec<bool> = indicator
            .boosts
            .iter()
            .map(|boost| m.eval(&boost.node, item, &mut scratch))
            .collect();
        let matched = m.matched_terms(item, indicator, &applied, &mut scratch);
        let plain = Evidence::new(matched.clone(), item);
        let what = format!("{:?} / {:?}", item.title, item.summary);
        match m.evidence_of_found(item, indicator, &applied, &mut scratch) {
            Some(short) => {
                assert_eq!(short, plain, "{what}");
                assert_eq!(
                    serde_json::to_string(&short).expect("json"),
                    serde_json::to_string(&plain).expect("json"),
                );
                cases.short += 1;
            }
            None => cases.plain += 1,
        }
        assert_eq!(
            m.evidence(item, indicator, &applied, &mut scratch),
            plain,
            "{what}"
        );

        let place = |t: &MatchedTerm| (t.field, t.start, t.end);
        cases.both_roles += usize::from(matched.iter().any(|a| {
            a.role == Role::Supporting
                && matched.iter().any(|b| {
                    b.role == Role::Demoting
                        && place(a) == place(b)
                        && std::sync::Arc::ptr_eq(&a.term, &b.term)
                })
        }));
        cases.shared_label += usize::from(matched.iter().any(|a| {
            matched.iter().any(|b| {
                place(a) == place(b)
                    && a.term == b.term
                    && !std::sync::Arc::ptr_eq(&a.term, &b.term)
            })
        }));
        cases.capped += usize::from((0..m.terms.len()).any(|t| {
            scratch.term_generation[t] == scratch.generation
                && scratch.term_occurrences[t].len() > MAX_OCCURRENCES_PER_TERM
                && matched
                    .iter()
                    .any(|found| std::sync::Arc::ptr_eq(&found.term, &m.terms[t].label))
        }));
    }
}

#[test]
fn evidence_of_found_terms_is_the_evidence_of_every_matched_term() {
    let shipped = super::scan_tests::shipped();
    let variants = variant_rules(&shipped);
    // One label text in two scopes, a list in the query and in boosts of both signs, a word
    // both in the query and in a demoting boost.
    let scoped = indicator(
        "@sat_object AND (@launch_verb OR satellite OR images)",
        &[
            ("title:(@sat_object)", 0.5),
            ("@sat_object NEAR/4 @launch_verb", 0.5),
            ("@imagery", -1.0),
            ("satellite", -0.25),
            ("title:(satellite) OR summary:(@launch_verb)", -0.25),
            ("@sat_object AND NOT @russia", 0.25),
        ],
        0.0,
    );
    let mut items = real_items();
    // Repetition past the cap on occurrences, in one field and across two, and lists of
    // every length around the sort's limit.
    for repeat in [1, 2, 3, 5, 8, 11, 15, 16, 17, 20, 33, 40] {
        let words = [
            "satellite launch",
            "images of the satellite",
            "위성 발사",
            "спутник запуск",
        ];
        for (n, word) in words.iter().enumerate() {
            let long = vec![*word; repeat].join(" and ");
            let short = vec![*word; repeat / 2 + n].join(", ");
            items.push((long.clone(), short.clone(), String::new()));
            items.push((short, long.clone(), long));
        }
    }
    let mut cases = EvidenceCases::default();
    for matcher in [&shipped.matcher, &variants.matcher, &scoped] {
        for owned in &items {
            let item = item_of(owned);
            assert_evidence_agrees(matcher, &item, &mut cases);
        }
    }
    // The comparison means something only if it met each case.
    assert!(cases.short > 500, "{cases:?}");
    assert!(cases.plain > 0, "{cases:?}");
    assert!(cases.both_roles > 0, "{cases:?}");
    assert!(cases.capped > 0, "{cases:?}");
    assert!(cases.shared_label > 0, "{cases:?}");
    eprintln!("{cases:?}");
}
