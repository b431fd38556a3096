//! The learned classifier (`classify::model`) on the council papers of
//! Karlsruhe: ranking one document with a model of 30 labels trained on
//! 10,000 documents, and training on 4,000 documents; each next to the naive
//! Bayes baseline over the same words (`classify::model::NaiveBayes`),
//! measured in the same run.
//!
//! The corpus is internal and not in the repository: without
//! ../shared/corpus/german-text/karlsruhe-dev.jsonl beside the repository (or
//! the file named by `AKTEN_CLASSIFY_CORPUS`) the benchmark says so and
//! measures nothing.
//!
//! The whole decision as the engine makes it (`Classifier::classify`: the
//! citation scan, the 500 rule patterns of the bundled Aktenplan, the model
//! with the evidence words of its top suggestions) is measured as well. For
//! it the 30 labels stand for 30 Betreffseinheiten of the bundled plan, with
//! 1,000 open Akten spread over them.
//!
//! The training sets: the corpus has 3,277 papers with an office (28
//! offices). To reach 10,000 documents the papers are cycled; the k-th copy
//! (k ≥ 1) of a paper leaves out every (7 + k)-th word, so no two documents
//! are the same. Two labels more make 30: the applications ("Antrag") of
//! the two largest offices are their own labels ("Stadtplanungsamt (Antrag)",
//! "Sozial- und Jugendbehörde (Antrag)"). 4,000 documents are the first 4,000
//! of the same sequence (all papers, then the first copies).

use std::hint::black_box;

use akten::classify::evaluate::rows_from_jsonl;
use akten::classify::model::{Example, Model, NaiveBayes};
use akten::classify::rules::Rules;
use akten::classify::{Classifier, Input, Known, KnownAkte, Policy, keys_regex};
use akten::model::{AzTemplate, Kennzeichen};
use akten::plan::Plan;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/german-text/karlsruhe-dev.jsonl");

struct Doc {
    label: String,
    title: String,
    text: String,
}

/// The corpus rows, with the two split labels; None (and a message) when
/// the corpus is not there.
fn corpus() -> Option<Vec<Doc>> {
    let path = std::env::var("AKTEN_CLASSIFY_CORPUS").unwrap_or_else(|_| CORPUS.to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping the classify benchmarks: the corpus {path} is not there (set AKTEN_CLASSIFY_CORPUS)");
        return None;
    };
    let rows = rows_from_jsonl(&text, "office").expect("the corpus reads");
    // paperType is not a field of `Row`; read it from the same lines.
    let types: Vec<Option<String>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("the corpus reads"))
        .filter(|v| v.get("office").and_then(|o| o.as_str()).is_some_and(|o| !o.trim().is_empty()))
        .map(|v| v.get("paperType").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    assert_eq!(types.len(), rows.len());
    Some(
        rows.into_iter()
            .zip(types)
            .map(|(row, kind)| {
                let split = matches!(row.label.as_str(), "Stadtplanungsamt" | "Sozial- und Jugendbehörde")
                    && kind.as_deref() == Some("Antrag");
                let label = if split { format!("{} (Antrag)", row.label) } else { row.label };
                Doc { label, title: row.title, text: row.text }
            })
            .collect(),
    )
}

/// The k-th variation of a text: every (7 + k)-th word left out (none for k = 0).
fn vary(text: &str, k: usize) -> String {
    if k == 0 {
        return text.to_string();
    }
    text.split_inclusive(' ').enumerate().filter(|(i, _)| (i + 1) % (7 + k) != 0).map(|(_, w)| w).collect()
}

/// `n` documents: the corpus, then its variations, in turn.
fn documents(corpus: &[Doc], n: usize) -> Vec<Doc> {
    (0..n)
        .map(|i| {
            let d = &corpus[i % corpus.len()];
            Doc { label: d.label.clone(), title: d.title.clone(), text: vary(&d.text, i / corpus.len()) }
        })
        .collect()
}

fn examples(docs: &[Doc]) -> Vec<Example<'_>> {
    docs.iter().map(|d| Example { label: &d.label, title: &d.title, text: &d.text }).collect()
}

/// The labels renamed to Kennzeichen of the bundled plan's Betreffseinheiten
/// (in order of first appearance), as the engine trains the model.
fn as_positions(corpus: &mut [Doc], plan: &Plan) -> Vec<Kennzeichen> {
    let positions: Vec<Kennzeichen> = plan.betreffseinheiten().map(|p| p.kennzeichen.clone()).collect();
    let mut names: Vec<String> = Vec::new();
    for d in corpus.iter_mut() {
        let i = names.iter().position(|n| *n == d.label).unwrap_or_else(|| {
            names.push(d.label.clone());
            names.len() - 1
        });
        d.label = positions[i].to_string();
    }
    positions[..names.len()].to_vec()
}

fn bench(c: &mut Criterion) {
    let Some(mut corpus) = corpus() else { return };
    let plan = Plan::from_toml(akten::engine::BUNDLED_PLAN, "aktenplan.toml").expect("the bundled plan loads");
    let used = as_positions(&mut corpus, &plan);

    let docs10k = documents(&corpus, 10_000);
    let set10k = examples(&docs10k);
    let model = Model::train(&set10k);
    let baseline = NaiveBayes::train(&set10k);
    assert_eq!(model.labels().len(), 30, "30 labels");
    // The document to classify: the paper of median length, in a variation
    // that is not in the training set.
    let mut by_length: Vec<&Doc> = corpus.iter().collect();
    by_length.sort_by_key(|d| d.text.len());
    let median = by_length[by_length.len() / 2];
    let (title, text) = (median.title.as_str(), vary(&median.text, 9));
    assert_eq!(model.rank(title, &text)[0].label, median.label, "the median paper is classified right");
    let bytes10k = model.to_bytes().len();

    let mut group = c.benchmark_group("classify_30_labels_10k_docs");
    group.sample_size(50);
    eprintln!("the document: {} characters, \"{}\"", text.chars().count(), median.title);
    group.bench_function("model_rank", |b| b.iter(|| model.rank(black_box(title), black_box(&text))));
    group.bench_function("model_rank_and_evidence_top3", |b| {
        b.iter(|| {
            let ranked = model.rank(black_box(title), black_box(&text));
            ranked.iter().take(3).map(|s| model.evidence(&s.label, title, &text, 4)).collect::<Vec<_>>()
        })
    });
    group.bench_function("naive_bayes_rank", |b| b.iter(|| baseline.rank(black_box(title), black_box(&text))));
    // The engine's whole decision for the same document.
    let rules = Rules::new(&plan);
    let keys = keys_regex(
        &AzTemplate::for_akte(AzTemplate::DEFAULT_AKTE).unwrap(),
        &AzTemplate::for_vorgang(AzTemplate::DEFAULT_VORGANG).unwrap(),
    );
    let akte_template = AzTemplate::for_akte(AzTemplate::DEFAULT_AKTE).unwrap();
    let akten: Vec<KnownAkte> = (0..1000u32)
        .map(|i| {
            let position = used[i as usize % used.len()].clone();
            KnownAkte {
                aktenzeichen: akte_template.aktenzeichen(&position, i + 1, 2026),
                title: format!("Akte {i}"),
                position,
                open: true,
                opened_year: 2026,
            }
        })
        .collect();
    let known = Known::new(akten, Vec::new());
    let policy = Policy::default();
    let classifier = Classifier {
        plan: &plan,
        rules: &rules,
        keys: &keys,
        known: &known,
        model: Some(&model),
        policy: &policy,
        year: 2026,
    };
    let input = Input { title, text: &text, sender: None, cover: None };
    let decided = classifier.classify(&input);
    assert!(decided.suggestions.iter().any(|s| s.position.as_str() == median.label), "{decided:?}");
    group.bench_function("engine_classify", |b| b.iter(|| classifier.classify(black_box(&input))));
    let learned = Example { label: &median.label, title, text: &text };
    group.bench_function("model_learn", |b| {
        b.iter_batched_ref(|| model.clone(), |m| m.learn(black_box(&learned)), BatchSize::LargeInput)
    });
    group.finish();
    drop((model, baseline));

    let docs4k = documents(&corpus, 4_000);
    let set4k = examples(&docs4k);
    let bytes4k = Model::train(&set4k).to_bytes().len();
    eprintln!("model size: {bytes4k} bytes at 4,000 documents, {bytes10k} bytes at 10,000 documents (30 labels)");
    let mut group = c.benchmark_group("train_4k_docs");
    group.sample_size(10);
    group.bench_function("model_train", |b| b.iter(|| Model::train(black_box(&set4k))));
    group.bench_function("naive_bayes_train", |b| b.iter(|| NaiveBayes::train(black_box(&set4k))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
