//! The model learned from human-confirmed filings: which label (a plan
//! position) a letter belongs to, how confident that is, and which of its
//! words speak for it.
//!
//! Text: lower-cased, a word hyphenated across a line break ("ermit-\ntelt")
//! joined, umlauts and ß kept; words are runs of letters and digits with at
//! least two characters and one letter. Features: each word, each pair of
//! neighbouring words and the character 5- and 6-grams of each word, hashed
//! into [`BUCKETS`] buckets, weighted with sublinear tf × idf and scaled to
//! unit length. The document frequencies
//! behind the idf are part of the model, so `learn` can keep them current.
//! Model: one linear SVM per label against all others (L2-regularised hinge
//! loss, solved by dual coordinate descent as liblinear does), with a bias.
//! Confidence: the softmax of the labels' scores times [`SCALE`], a constant
//! calibrated on the council-paper corpus (docs/classification.md).
//!
//! Also here: [`NaiveBayes`], the multinomial naive Bayes over the same
//! words and pairs that evaluation and benchmarks measure the model against;
//! the engine does not use it.
//!
//! Invariants:
//! - pure and deterministic: no I/O, no clock; the same examples in the same
//!   order give the same model bit for bit, whatever the number of cores
//!   (labels are trained independently, each from its own fixed seed);
//! - `weights` holds `BUCKETS × labels` floats, feature-major (the weights of
//!   one bucket for all labels lie together, which is what ranking reads);
//! - a bucket's weights are non-zero only where its document frequency is:
//!   training and `learn` touch only buckets of documents they counted, and
//!   `to_bytes` writes only those buckets;
//! - `from_bytes` never panics and takes only what `to_bytes` wrote (magic,
//!   format version, blake3 checksum, every count checked against the bytes).

use std::collections::{HashMap, HashSet};

/// One human-confirmed filing to learn from.
#[derive(Clone, Copy, Debug)]
pub struct Example<'a> {
    pub label: &'a str,
    pub title: &'a str,
    pub text: &'a str,
}

/// A label with the model's confidence in it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scored {
    pub label: String,
    /// 0..=1; the confidences of one ranking add up to 1.
    pub confidence: f32,
}

/// The confidence from which the engine files on the model alone. On the
/// council papers (5-fold cross-validation, docs/classification.md) 56 % of
/// the documents reached it and 96 % of those were right (three seeds: 95.9
/// to 96.2 %); a lower threshold covers more but drops toward 95 % (0.90:
/// 63 %, 95.3 %), a higher one gains little precision (0.98: 49 %, 96.8 %),
/// because some papers are confidently filed to a neighbouring office.
pub const DEFAULT_THRESHOLD: f32 = 0.95;

/// Hash buckets for the features: 2^17. Measured on the council papers,
/// 2^16 to 2^19 gave the same top-1 (84.2–84.4 %); the weights take 4 bytes
/// per bucket and label (16 MiB at 30 labels), so fewer buckets leave room
/// for the hundreds of positions of a real file plan.
pub const BUCKETS: usize = 1 << BUCKET_BITS;
const BUCKET_BITS: u32 = 17;

/// Multiplies the SVM scores before the softmax. An SVM score is about +1 for
/// a clear member and -1 for a clear non-member, so the scale decides how
/// sharply a lead in score turns into confidence. 6 gave the lowest log loss
/// of the out-of-fold predictions on the council papers (docs/classification.md).
pub const SCALE: f32 = 6.0;

/// The SVM's cost of a margin violation (liblinear's C).
const COST: f32 = 1.0;
/// Dual coordinate descent stops when the projected gradients span less.
const TOLERANCE: f32 = 0.1;
const MAX_EPOCHS: usize = 300;
/// `learn`: at most this many passive-aggressive rounds per example, each
/// step at most `LEARN_STEP` (as a training example's dual variable at most
/// `COST`), so one filing cannot move the model further than one example of
/// the training set could.
const LEARN_ROUNDS: usize = 3;
const LEARN_STEP: f32 = COST;
const SEED: u64 = 0x6b61_726c_7372_7568;

const MAGIC: &[u8; 8] = b"AKTENCLS";
const FORMAT_VERSION: u32 = 1;

/// A model that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("this is not a classifier model of akten (no AKTENCLS header); rebuild it with `akten classify train`")]
    NotAModel,
    #[error(
        "the classifier model has format version {found}, this akten reads version {supported}; rebuild it with `akten classify train`"
    )]
    Version { found: u32, supported: u32 },
    #[error("the classifier model is damaged ({reason}); rebuild it with `akten classify train`")]
    Damaged { reason: String },
}

fn damaged(reason: impl Into<String>) -> ModelError {
    ModelError::Damaged { reason: reason.into() }
}

/// The learned model. See the module documentation.
#[derive(Clone, Debug)]
pub struct Model {
    labels: Vec<String>,
    bias: Vec<f32>,
    /// `BUCKETS × labels`, feature-major.
    weights: Vec<f32>,
    /// Document frequency per bucket.
    df: Vec<u32>,
    /// Documents counted in `df` (= examples learned).
    docs: u64,
}

impl Model {
    /// Trains on all examples at once: the exact rebuild.
    pub fn train(examples: &[Example<'_>]) -> Model {
        let mut labels: Vec<String> = examples.iter().map(|e| e.label.to_string()).collect();
        labels.sort();
        labels.dedup();
        let index: HashMap<&str, u32> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect();
        let y: Vec<u32> = examples.iter().map(|e| index[e.label]).collect();

        let counts: Vec<Vec<(u32, u32)>> = parallel_map(examples, |e| term_counts(e.title, e.text, Features::All));
        let mut df = vec![0u32; BUCKETS];
        for doc in &counts {
            for &(b, _) in doc {
                df[b as usize] += 1;
            }
        }
        let n = labels.len();
        let mut model =
            Model { labels, bias: vec![0.0; n], weights: vec![0.0; BUCKETS * n], df, docs: examples.len() as u64 };
        let idf = model.idf_table();
        let mut x = Csr::default();
        for doc in &counts {
            x.push(&weigh(doc, &|b| idf[b as usize]));
        }
        drop(counts);

        let trained = parallel_map(&(0..n).collect::<Vec<_>>(), |&k| {
            let positive: Vec<bool> = y.iter().map(|&l| l as usize == k).collect();
            svm(&x, &positive, SEED ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        });
        for (k, (w, b)) in trained.into_iter().enumerate() {
            model.bias[k] = b;
            for (bucket, &v) in w.iter().enumerate() {
                if v != 0.0 {
                    model.weights[bucket * n + k] = v;
                }
            }
        }
        model
    }

    /// Learns one more human-confirmed filing without the old examples: the
    /// document frequencies take it in, and a few passive-aggressive steps
    /// (PA-I) move each label's weights until this text scores at least +1
    /// for its label and at most -1 for the others. Approximate; `train` is
    /// the exact rebuild.
    pub fn learn(&mut self, example: &Example<'_>) {
        let k = match self.labels.iter().position(|l| l == example.label) {
            Some(k) => k,
            None => self.add_label(example.label),
        };
        let counts = term_counts(example.title, example.text, Features::All);
        for &(b, _) in &counts {
            self.df[b as usize] = self.df[b as usize].saturating_add(1);
        }
        self.docs += 1;
        let x = weigh(&counts, &|b| self.idf(b));
        if x.is_empty() {
            return;
        }
        let n = self.labels.len();
        for _ in 0..LEARN_ROUNDS {
            let scores = self.scores(&x);
            let mut moved = false;
            for (c, score) in scores.iter().enumerate() {
                let y = if c == k { 1.0 } else { -1.0 };
                let loss = 1.0 - y * score;
                if loss <= 1e-4 {
                    continue;
                }
                // ‖x‖ = 1, so a step of `loss` reaches the margin exactly.
                let tau = loss.min(LEARN_STEP) * y;
                for &(b, v) in &x {
                    self.weights[b as usize * n + c] += tau * v;
                }
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn add_label(&mut self, label: &str) -> usize {
        let n = self.labels.len();
        let mut weights = vec![0.0; BUCKETS * (n + 1)];
        if n > 0 {
            for (new, old) in weights.chunks_exact_mut(n + 1).zip(self.weights.chunks_exact(n)) {
                new[..n].copy_from_slice(old);
            }
        }
        self.weights = weights;
        // A new label starts where the others stand on a text of none of
        // theirs: below zero, so that it does not win every text it shares
        // a word with.
        let bias = if n == 0 { 0.0 } else { self.bias.iter().sum::<f32>() / n as f32 };
        self.bias.push(bias.min(-0.5));
        self.labels.push(label.to_string());
        n
    }

    /// All known labels, best first, with confidences that add up to 1;
    /// empty for a model without labels.
    pub fn rank(&self, title: &str, text: &str) -> Vec<Scored> {
        if self.labels.is_empty() {
            return Vec::new();
        }
        let x = weigh(&term_counts(title, text, Features::All), &|b| self.idf(b));
        let scores = self.scores(&x);
        let confidence = softmax(&scores, SCALE);
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then_with(|| self.labels[a].cmp(&self.labels[b])));
        order.into_iter().map(|k| Scored { label: self.labels[k].clone(), confidence: confidence[k] }).collect()
    }

    /// Up to `n` words or word pairs of this text that raise the score of
    /// `label` most, as written in the text (a pair only where neither of its
    /// words is already named); empty for an unknown label.
    pub fn evidence(&self, label: &str, title: &str, text: &str, n: usize) -> Vec<String> {
        let Some(k) = self.labels.iter().position(|l| l == label) else { return Vec::new() };
        let labels = self.labels.len();
        let mut buckets: Vec<u32> = Vec::new();
        let mut terms: Vec<(u32, String)> = Vec::new();
        for_each_term(title, text, Features::All, &mut |bucket, term| {
            buckets.push(bucket);
            match term {
                Term::Word(w) => terms.push((bucket, w.to_string())),
                Term::Pair(a, b) => terms.push((bucket, format!("{a} {b}"))),
                Term::Gram => {}
            }
        });
        let counts = count(buckets);
        let weights: HashMap<u32, f32> = weigh(&counts, &|b| self.idf(b)).into_iter().collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut candidates: Vec<(f32, usize, String)> = Vec::new();
        for (position, (bucket, shown)) in terms.into_iter().enumerate() {
            let lower = shown.to_lowercase();
            if !seen.insert(lower) {
                continue;
            }
            let gain = weights.get(&bucket).copied().unwrap_or(0.0) * self.weights[bucket as usize * labels + k];
            if gain > 0.0 {
                candidates.push((gain, position, shown));
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut chosen: Vec<String> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        for (_, _, shown) in candidates {
            if chosen.len() >= n {
                break;
            }
            let own: Vec<String> = shown.split(' ').map(str::to_lowercase).collect();
            if own.iter().any(|w| words.contains(w)) {
                continue;
            }
            words.extend(own);
            chosen.push(shown);
        }
        chosen
    }

    /// The labels in the model's order (sorted at `train`, then in the order
    /// `learn` met them).
    pub fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }

    /// How many examples it has learned (`train` and `learn` together).
    pub fn examples(&self) -> usize {
        usize::try_from(self.docs).unwrap_or(usize::MAX)
    }

    fn idf(&self, bucket: u32) -> f32 {
        idf(self.docs, self.df[bucket as usize])
    }

    fn idf_table(&self) -> Vec<f32> {
        self.df.iter().map(|&d| idf(self.docs, d)).collect()
    }

    fn scores(&self, x: &[(u32, f32)]) -> Vec<f32> {
        let n = self.labels.len();
        let mut scores = self.bias.clone();
        for &(b, v) in x {
            let row = &self.weights[b as usize * n..(b as usize + 1) * n];
            for (s, w) in scores.iter_mut().zip(row) {
                *s += v * w;
            }
        }
        scores
    }

    /// The versioned binary form: magic, format version, the labels with
    /// their biases, the non-zero document frequencies, the weights of those
    /// buckets, and a blake3 checksum of all of it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.labels.len();
        let used: Vec<usize> = (0..BUCKETS).filter(|&b| self.df[b] > 0).collect();
        let mut out = Vec::with_capacity(64 + used.len() * (3 + 4 * n));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&BUCKET_BITS.to_le_bytes());
        out.extend_from_slice(&self.docs.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for (label, bias) in self.labels.iter().zip(&self.bias) {
            out.extend_from_slice(&(label.len() as u32).to_le_bytes());
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(&bias.to_le_bytes());
        }
        out.extend_from_slice(&(used.len() as u32).to_le_bytes());
        let mut last = 0;
        for &b in &used {
            varint(&mut out, (b - last) as u64);
            varint(&mut out, u64::from(self.df[b]));
            last = b;
        }
        for &b in &used {
            for w in &self.weights[b * n..(b + 1) * n] {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    /// Reads what [`Model::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelError::NotAModel);
        }
        let mut r = Reader { bytes, at: MAGIC.len() };
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(ModelError::Version { found: version, supported: FORMAT_VERSION });
        }
        if bytes.len() < r.at + 32 {
            return Err(damaged("truncated"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(damaged("checksum mismatch: truncated or altered"));
        }
        let mut r = Reader { bytes: body, at: r.at };
        if r.u32()? != BUCKET_BITS {
            return Err(damaged("another number of feature buckets"));
        }
        let docs = r.u64()?;
        let n = r.count(8)?;
        let mut labels = Vec::with_capacity(n);
        let mut bias = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count(1)?;
            let label = std::str::from_utf8(r.take(len)?).map_err(|_| damaged("a label is not UTF-8"))?;
            if labels.iter().any(|l: &String| l == label) {
                return Err(damaged("a label appears twice"));
            }
            labels.push(label.to_string());
            bias.push(r.f32()?);
        }
        let used = r.count(2)?;
        if used > BUCKETS {
            return Err(damaged("more buckets than the format has"));
        }
        let mut df = vec![0u32; BUCKETS];
        let mut buckets = Vec::with_capacity(used);
        let mut last: u64 = 0;
        for i in 0..used {
            let gap = r.varint()?;
            if i > 0 && gap == 0 {
                return Err(damaged("buckets out of order"));
            }
            last =
                last.checked_add(gap).filter(|&b| b < BUCKETS as u64).ok_or_else(|| damaged("bucket out of range"))?;
            let d = u32::try_from(r.varint()?).map_err(|_| damaged("document frequency out of range"))?;
            if d == 0 {
                return Err(damaged("a stored bucket has no documents"));
            }
            df[last as usize] = d;
            buckets.push(last as usize);
        }
        if used.checked_mul(n).and_then(|c| c.checked_mul(4)) != Some(r.rest()) {
            return Err(damaged("the weights do not fill the file"));
        }
        let mut weights = vec![0.0; BUCKETS * n];
        for &b in &buckets {
            for k in 0..n {
                weights[b * n + k] = r.f32()?;
            }
        }
        if weights.iter().chain(&bias).any(|w| !w.is_finite()) {
            return Err(damaged("a weight is not a finite number"));
        }
        Ok(Model { labels, bias, weights, df, docs })
    }
}

/// Multinomial naive Bayes over the same features (raw counts of words and
/// word pairs, Laplace smoothing): the baseline of evaluation and benchmarks.
#[derive(Clone, Debug)]
pub struct NaiveBayes {
    labels: Vec<String>,
    prior: Vec<f32>,
    /// `BUCKETS × labels` log-probabilities, feature-major.
    log_p: Vec<f32>,
}

impl NaiveBayes {
    pub fn train(examples: &[Example<'_>]) -> NaiveBayes {
        let mut labels: Vec<String> = examples.iter().map(|e| e.label.to_string()).collect();
        labels.sort();
        labels.dedup();
        let n = labels.len();
        let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let counts: Vec<Vec<(u32, u32)>> = parallel_map(examples, |e| term_counts(e.title, e.text, Features::Words));
        let mut table = vec![0.0f64; BUCKETS * n];
        let mut totals = vec![0.0f64; n];
        let mut docs = vec![0usize; n];
        for (e, doc) in examples.iter().zip(&counts) {
            let k = index[e.label];
            docs[k] += 1;
            for &(b, c) in doc {
                table[b as usize * n + k] += f64::from(c);
                totals[k] += f64::from(c);
            }
        }
        // The vocabulary: the buckets any training text has, as a
        // vocabulary-based naive Bayes would count it.
        let vocabulary = table.chunks_exact(n.max(1)).filter(|row| row.iter().any(|&c| c > 0.0)).count() as f64;
        let log_p = table
            .chunks_exact(n.max(1))
            .flat_map(|row| {
                row.iter()
                    .zip(&totals)
                    .map(|(c, total)| ((c + 1.0) / (total + vocabulary)).ln() as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let prior = docs.iter().map(|&d| (d as f64 / examples.len() as f64).ln() as f32).collect();
        NaiveBayes { labels, prior, log_p }
    }

    /// All labels, best first, with the posterior probabilities.
    pub fn rank(&self, title: &str, text: &str) -> Vec<Scored> {
        let n = self.labels.len();
        if n == 0 {
            return Vec::new();
        }
        let mut scores = self.prior.clone();
        for (b, c) in term_counts(title, text, Features::Words) {
            let row = &self.log_p[b as usize * n..(b as usize + 1) * n];
            for (s, p) in scores.iter_mut().zip(row) {
                *s += c as f32 * p;
            }
        }
        let confidence = softmax(&scores, 1.0);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then_with(|| self.labels[a].cmp(&self.labels[b])));
        order.into_iter().map(|k| Scored { label: self.labels[k].clone(), confidence: confidence[k] }).collect()
    }
}

fn idf(docs: u64, df: u32) -> f32 {
    // Smoothed as if one more document held every term: never zero, never
    // infinite, also for a bucket seen by no document.
    (((1 + docs) as f64 / (1 + u64::from(df)) as f64).ln() + 1.0) as f32
}

fn softmax(scores: &[f32], scale: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = scores.iter().map(|s| ((s - max) * scale).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Sublinear tf × idf, scaled to unit length; sorted by bucket.
fn weigh(counts: &[(u32, u32)], idf: &dyn Fn(u32) -> f32) -> Vec<(u32, f32)> {
    let mut x: Vec<(u32, f32)> = counts.iter().map(|&(b, c)| (b, (1.0 + (c as f32).ln()) * idf(b))).collect();
    let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut x {
            *v /= norm;
        }
    }
    x
}

impl Csr {
    fn push(&mut self, row: &[(u32, f32)]) {
        if self.start.is_empty() {
            self.start.push(0);
        }
        for &(b, v) in row {
            self.index.push(b);
            self.value.push(v);
        }
        self.start.push(self.index.len());
    }

    fn rows(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.start[i], self.start[i + 1]);
        (&self.index[a..b], &self.value[a..b])
    }
}

/// Documents as sparse rows, one block of memory.
#[derive(Default)]
struct Csr {
    index: Vec<u32>,
    value: Vec<f32>,
    start: Vec<usize>,
}

/// One label against all others: an L2-regularised L1-loss linear SVM with
/// a bias feature of value 1, by dual coordinate descent with shrinking
/// (Hsieh et al. 2008, liblinear's solver 3). Returns the weights per bucket
/// and the bias.
fn svm(x: &Csr, positive: &[bool], seed: u64) -> (Vec<f32>, f32) {
    let l = x.rows();
    let mut w = vec![0.0f32; BUCKETS];
    let mut bias = 0.0f32;
    let mut alpha = vec![0.0f32; l];
    let y: Vec<f32> = positive.iter().map(|&p| if p { 1.0 } else { -1.0 }).collect();
    // ‖x‖² + 1 for the bias feature; rows are unit length or empty.
    let qd: Vec<f32> = (0..l).map(|i| x.row(i).1.iter().map(|v| v * v).sum::<f32>() + 1.0).collect();
    let mut index: Vec<usize> = (0..l).collect();
    let mut active = l;
    let mut rng = SplitMix(seed);
    let (mut pg_max_old, mut pg_min_old) = (f32::INFINITY, f32::NEG_INFINITY);
    for _ in 0..MAX_EPOCHS {
        for i in 0..active {
            let j = i + (rng.next() % (active - i) as u64) as usize;
            index.swap(i, j);
        }
        let (mut pg_max, mut pg_min) = (f32::NEG_INFINITY, f32::INFINITY);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let (idx, val) = x.row(i);
            let mut dot = bias;
            for (&b, &v) in idx.iter().zip(val) {
                dot += w[b as usize] * v;
            }
            let g = y[i] * dot - 1.0;
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                if g < 0.0 {
                    pg = g;
                }
            } else if alpha[i] == COST {
                if g < pg_min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                if g > 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).clamp(0.0, COST);
                let d = (alpha[i] - old) * y[i];
                for (&b, &v) in idx.iter().zip(val) {
                    w[b as usize] += d * v;
                }
                bias += d;
            }
            s += 1;
        }
        if pg_max - pg_min <= TOLERANCE {
            if active == l {
                break;
            }
            // Converged on the active set: check all once more.
            active = l;
            pg_max_old = f32::INFINITY;
            pg_min_old = f32::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f32::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 { f32::NEG_INFINITY } else { pg_min };
    }
    (w, bias)
}

/// Runs `f` over `items` on the machine's cores; the results in the order
/// of `items`, the same whatever the number of cores.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len()).max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || (t..items.len()).step_by(threads).map(|i| (i, f(&items[i]))).collect::<Vec<_>>())
            })
            .collect();
        // A panic in `f` is a bug here; hand it on rather than hide it.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let mut out: Vec<(usize, R)> = parts.iter_mut().flat_map(std::mem::take).collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Which features a text gives.
#[derive(Clone, Copy, PartialEq)]
enum Features {
    /// Words, word pairs and the character n-grams of words: the model's.
    All,
    /// Words and word pairs: the baseline's.
    Words,
}

/// The features of a text: (bucket, count), sorted by bucket.
fn term_counts(title: &str, text: &str, features: Features) -> Vec<(u32, u32)> {
    let mut buckets = Vec::with_capacity(text.len());
    for_each_term(title, text, features, &mut |b, _| buckets.push(b));
    count(buckets)
}

fn count(mut buckets: Vec<u32>) -> Vec<(u32, u32)> {
    buckets.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match out.last_mut() {
            Some((last, c)) if *last == b => *c += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

/// A feature as a person could read it: a word or a pair of words as
/// written; character n-grams are not shown.
enum Term<'a> {
    Word(&'a str),
    Pair(&'a str, &'a str),
    Gram,
}

/// The lengths of the character n-grams taken from each word, which is
/// padded with a space at either end ("bebauungsplan" gives " bebau",
/// "bauungsp", ..., "plan "): parts of compounds and inflected forms then
/// match across different words. Measured on the council papers: 2 points
/// of top-1 over words and pairs alone, 0.3–0.7 over 3–4 and 4–5-grams
/// (docs/classification.md).
const GRAMS: [usize; 2] = [5, 6];

/// Calls `f` with the bucket of every feature of the title, then of the text
/// (no pair across the two). A word is kept if it has at least two
/// characters and a letter; a dropped word (a number, a single letter) also
/// breaks the pair around it.
fn for_each_term(title: &str, text: &str, features: Features, f: &mut dyn FnMut(u32, Term<'_>)) {
    let mut padded = String::new();
    let mut starts: Vec<usize> = Vec::new();
    for part in [title, text] {
        let mut prev: Option<(u64, String)> = None;
        for_each_word(part, &mut |lower, original| {
            if lower.chars().nth(1).is_none() || !lower.chars().any(char::is_alphabetic) {
                prev = None;
                return;
            }
            let h = fnv(lower.as_bytes());
            f(bucket(h ^ 0x5555_0000_0000_0001), Term::Word(original));
            if let Some((p, before)) = &prev {
                f(bucket(p.rotate_left(23).wrapping_add(h) ^ 0xaaaa_0000_0000_0002), Term::Pair(before, original));
            }
            if features == Features::All {
                padded.clear();
                padded.push(' ');
                padded.push_str(lower);
                padded.push(' ');
                starts.clear();
                starts.extend(padded.char_indices().map(|(i, _)| i));
                starts.push(padded.len());
                let chars = starts.len() - 1;
                for len in GRAMS {
                    // A word as short as the n-gram is the word feature again.
                    if chars < len + 1 {
                        continue;
                    }
                    for i in 0..=chars - len {
                        let gram = &padded.as_bytes()[starts[i]..starts[i + len]];
                        f(bucket(fnv(gram) ^ 0x3333_0000_0000_0004 ^ len as u64), Term::Gram);
                    }
                }
            }
            match &mut prev {
                Some((p, before)) => {
                    *p = h;
                    before.clear();
                    before.push_str(original);
                }
                None => prev = Some((h, original.to_string())),
            }
        });
    }
}

/// Calls `f` with each word of `s`, lower-cased and as written. A hyphen at
/// a line end followed by a lower-case letter is a word split by the line
/// break: the parts are joined. A soft hyphen is dropped.
fn for_each_word(s: &str, f: &mut dyn FnMut(&str, &str)) {
    let mut lower = String::new();
    let mut original = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() {
            lower.extend(c.to_lowercase());
            original.push(c);
            continue;
        }
        if c == '\u{ad}' {
            continue;
        }
        if c == '-'
            && !lower.is_empty()
            && let Some(skip) = line_break_after_hyphen(&s[i + c.len_utf8()..])
        {
            // Jump to the first letter of the word's second half.
            let target = i + c.len_utf8() + skip;
            while chars.clone().next().is_some_and(|(j, _)| j < target) {
                chars.next();
            }
            continue;
        }
        if !lower.is_empty() {
            f(&lower, &original);
            lower.clear();
            original.clear();
        }
    }
    if !lower.is_empty() {
        f(&lower, &original);
    }
}

/// After a hyphen: the bytes up to the next word's first letter when only
/// blanks and one line break lie between and that letter is lower case.
fn line_break_after_hyphen(rest: &str) -> Option<usize> {
    let mut newline = false;
    for (i, c) in rest.char_indices() {
        match c {
            ' ' | '\t' | '\r' => {}
            '\n' if !newline => newline = true,
            c if newline && c.is_lowercase() => return Some(i),
            _ => return None,
        }
    }
    None
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn bucket(key: u64) -> u32 {
    (mix(key) >> (64 - BUCKET_BITS)) as u32
}

/// The splitmix64 finaliser: spreads FNV's weak high bits over all bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small deterministic random number generator (splitmix64).
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bounds-checked reading; every failure is an error, never a panic.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| damaged("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn rest(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }

    /// A count of things that take at least `each` bytes: more than the rest
    /// of the input could hold is damage (and no allocation is made for it).
    fn count(&mut self, each: usize) -> Result<usize, ModelError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(each) > self.rest() {
            return Err(damaged("a count larger than the file"));
        }
        Ok(n)
    }

    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(damaged("a number too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAU: [&str; 8] = [
        "Bauantrag",
        "Baugenehmigung",
        "Bebauungsplan",
        "Grundstück",
        "Dachgeschoss",
        "Bauvoranfrage",
        "Abstandsfläche",
        "Garage",
    ];
    const ORDNUNG: [&str; 8] = [
        "Parkverstoß",
        "Gewerbeanmeldung",
        "Lärmbelästigung",
        "Sondernutzung",
        "Straßenfest",
        "Hundesteuer",
        "Ruhestörung",
        "Falschparker",
    ];
    const SOZIAL: [&str; 8] = [
        "Wohngeld",
        "Grundsicherung",
        "Pflegegeld",
        "Kinderzuschlag",
        "Unterhaltsvorschuss",
        "Bildungspaket",
        "Eingliederungshilfe",
        "Sozialhilfe",
    ];
    const KULTUR: [&str; 8] =
        ["Theater", "Museum", "Ausstellung", "Konzert", "Bibliothek", "Lesung", "Kunstpreis", "Orchester"];

    /// A short letter about four of the topic's words, framed by words all
    /// letters share.
    fn letter(topic: &[&str], i: usize) -> String {
        let words: Vec<&str> = (0..4).map(|k| topic[(i + k * 3) % topic.len()]).collect();
        format!(
            "Sehr geehrte Damen und Herren,\nwir schreiben Ihnen wegen {} und {}.\nBitte prüfen Sie {} sowie {} bis zum {}. März.\nMit freundlichen Grüßen",
            words[0],
            words[1],
            words[2],
            words[3],
            i + 1
        )
    }

    fn corpus() -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for i in 0..8 {
            for (label, topic) in [("61.20", &BAU), ("32.10", &ORDNUNG), ("50.01", &SOZIAL)] {
                out.push((label.to_string(), format!("Schreiben vom {}. Mai", i + 1), letter(topic, i)));
            }
        }
        out
    }

    fn examples(c: &[(String, String, String)]) -> Vec<Example<'_>> {
        c.iter().map(|(l, ti, te)| Example { label: l, title: ti, text: te }).collect()
    }

    fn trained() -> Model {
        Model::train(&examples(&corpus()))
    }

    #[test]
    fn train_then_rank_puts_the_right_label_first() {
        let model = trained();
        assert_eq!(model.labels(), ["32.10", "50.01", "61.20"]);
        assert_eq!(model.examples(), 24);
        let cases = [
            ("61.20", "Ihr Bauantrag für die Garage auf dem Grundstück"),
            ("32.10", "Beschwerde über Lärmbelästigung und Falschparker beim Straßenfest"),
            ("50.01", "Antrag auf Wohngeld und Grundsicherung"),
        ];
        for (label, text) in cases {
            let ranked = model.rank("Anfrage", text);
            assert_eq!(ranked.len(), 3);
            assert_eq!(ranked[0].label, label, "{text}: {ranked:?}");
            assert!(ranked[0].confidence > ranked[1].confidence, "{ranked:?}");
            assert!(ranked.windows(2).all(|w| w[0].confidence >= w[1].confidence), "{ranked:?}");
            let sum: f32 = ranked.iter().map(|s| s.confidence).sum();
            assert!((sum - 1.0).abs() < 1e-4, "confidences add up to 1: {sum}");
            assert!(ranked.iter().all(|s| (0.0..=1.0).contains(&s.confidence)));
        }
    }

    #[test]
    fn an_empty_model_ranks_nothing() {
        let model = Model::train(&[]);
        assert!(model.rank("Titel", "irgendein Text").is_empty());
        assert!(model.labels().is_empty());
        assert_eq!(model.examples(), 0);
        assert!(model.evidence("61.20", "Titel", "Text", 3).is_empty());
    }

    #[test]
    fn training_is_deterministic() {
        assert_eq!(trained().to_bytes(), trained().to_bytes());
    }

    #[test]
    fn learn_adds_a_new_label() {
        let mut model = trained();
        let text = letter(&KULTUR, 0);
        model.learn(&Example { label: "41.00", title: "Kulturprogramm", text: &text });
        assert_eq!(model.labels(), ["32.10", "50.01", "61.20", "41.00"]);
        assert_eq!(model.examples(), 25);
        let ranked = model.rank("Anfrage", "Wann spielt das Theater im Museum?");
        assert_eq!(ranked[0].label, "41.00", "{ranked:?}");
        // The old labels still hold their texts.
        assert_eq!(model.rank("Anfrage", "Antrag auf Wohngeld")[0].label, "50.01");
        assert_eq!(model.rank("Anfrage", "Bauantrag für eine Garage")[0].label, "61.20");
    }

    #[test]
    fn learn_starts_an_empty_model_and_corrects_a_known_label() {
        let mut model = Model::train(&[]);
        model.learn(&Example { label: "61.20", title: "Bauantrag", text: letter(&BAU, 0).as_str() });
        assert_eq!(model.rank("", "Bauantrag")[0], Scored { label: "61.20".into(), confidence: 1.0 });
        model.learn(&Example { label: "50.01", title: "Wohngeld", text: letter(&SOZIAL, 0).as_str() });
        assert_eq!(model.rank("", "Antrag auf Wohngeld und Grundsicherung")[0].label, "50.01");
        assert_eq!(model.rank("", "Bauantrag und Baugenehmigung")[0].label, "61.20");
        assert_eq!(model.examples(), 2);
    }

    #[test]
    fn evidence_names_words_of_the_text() {
        let model = trained();
        let text = "Sehr geehrte Damen und Herren, anbei unser Bauantrag für eine Garage auf dem Grundstück.";
        let words = model.evidence("61.20", "Bauantrag Garage", text, 3);
        assert!(!words.is_empty() && words.len() <= 3, "{words:?}");
        let haystack = format!("Bauantrag Garage {text}").to_lowercase();
        for w in &words {
            assert!(haystack.contains(&w.to_lowercase()), "{w:?} is not in the text");
        }
        assert!(words.iter().any(|w| ["Bauantrag", "Garage", "Grundstück"].contains(&w.as_str())), "{words:?}");
        assert!(model.evidence("99.99", "", text, 3).is_empty(), "unknown label");
        assert!(model.evidence("61.20", "", text, 0).is_empty());
        assert!(model.evidence("61.20", "", "Wohngeld", 3).is_empty(), "nothing speaks for it");
    }

    #[test]
    fn bytes_round_trip() {
        let mut model = trained();
        model.learn(&Example { label: "41.00", title: "Theater", text: "Theater und Museum" });
        let bytes = model.to_bytes();
        assert_eq!(&bytes[..8], MAGIC);
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.labels(), model.labels());
        assert_eq!(back.examples(), model.examples());
        let text = "Antrag auf Baugenehmigung";
        assert_eq!(back.rank("", text), model.rank("", text));
        assert_eq!(back.evidence("61.20", "", text, 2), model.evidence("61.20", "", text, 2));
        let empty = Model::train(&[]);
        assert!(Model::from_bytes(&empty.to_bytes()).unwrap().rank("", "x").is_empty());
    }

    #[test]
    fn from_bytes_rejects_truncated_and_altered_bytes() {
        let bytes = trained().to_bytes();
        let cuts = (0..64).chain((64..bytes.len()).step_by(97)).chain([bytes.len() - 1]);
        for cut in cuts {
            assert!(Model::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in [8, 12, 20, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[at] ^= 0x40;
            assert!(Model::from_bytes(&altered).is_err(), "byte {at} altered");
        }
        let mut newer = bytes.clone();
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(Model::from_bytes(&newer), Err(ModelError::Version { found: 2, supported: 1 })));
        assert!(matches!(Model::from_bytes(b"%PDF-1.7 garbage"), Err(ModelError::NotAModel)));
        assert!(matches!(Model::from_bytes(&[]), Err(ModelError::NotAModel)));
        let mut garbage = MAGIC.to_vec();
        let mut rng = SplitMix(3);
        garbage.extend((0..5000).map(|_| rng.next() as u8));
        assert!(matches!(Model::from_bytes(&garbage), Err(ModelError::Version { .. } | ModelError::Damaged { .. })));
    }

    /// Content that is wrong behind a valid checksum is still refused.
    #[test]
    fn from_bytes_checks_counts_behind_a_valid_checksum() {
        let bytes = trained().to_bytes();
        let reseal = |mut body: Vec<u8>| {
            let sum = blake3::hash(&body);
            body.extend_from_slice(sum.as_bytes());
            body
        };
        let body = bytes[..bytes.len() - 32].to_vec();
        // Labels count at byte 24 (after magic, version, bits, docs).
        let mut huge = body.clone();
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Model::from_bytes(&reseal(huge)), Err(ModelError::Damaged { .. })));
        let mut bits = body.clone();
        bits[12..16].copy_from_slice(&30u32.to_le_bytes());
        assert!(matches!(Model::from_bytes(&reseal(bits)), Err(ModelError::Damaged { .. })));
        let mut short = body.clone();
        short.truncate(body.len() - 3);
        assert!(matches!(Model::from_bytes(&reseal(short)), Err(ModelError::Damaged { .. })));
        let mut long = body.clone();
        long.push(0);
        assert!(matches!(Model::from_bytes(&reseal(long)), Err(ModelError::Damaged { .. })));
        assert!(Model::from_bytes(&reseal(body)).is_ok());
    }

    #[test]
    fn errors_say_how_to_fix() {
        for e in [ModelError::NotAModel, ModelError::Version { found: 2, supported: 1 }, damaged("truncated")] {
            let m = e.to_string();
            assert!(m.contains("akten classify train"), "{m}");
            assert!(m.starts_with(|c: char| c.is_lowercase()) && !m.ends_with('.'), "{m}");
        }
    }

    fn words(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_word(s, &mut |lower, _| out.push(lower.to_string()));
        out
    }

    #[test]
    fn words_are_lower_case_and_joined_across_hyphenated_line_breaks() {
        assert_eq!(words("die Kosten ermit-\ntelt"), ["die", "kosten", "ermittelt"]);
        assert_eq!(words("ermit- \r\n  telt"), ["ermittelt"]);
        // A capital after the break is a real hyphen (a name, a compound).
        assert_eq!(words("Theodor-\nHeuss-Allee"), ["theodor", "heuss", "allee"]);
        // Not at a line end: two words.
        assert_eq!(words("Bau- und Planungsamt"), ["bau", "und", "planungsamt"]);
        assert_eq!(words("Straße ÄNDERUNG Grüße"), ["straße", "änderung", "grüße"]);
        assert_eq!(words("Tren\u{ad}nung"), ["trennung"]);
        assert_eq!(words("ermit-\n\ntelt"), ["ermit", "telt"]);
    }

    #[test]
    fn numbers_and_single_letters_are_no_features() {
        assert!(term_counts("", "2026 a 12 § 3", Features::Words).is_empty());
        // Two words: two unigrams and one pair.
        assert_eq!(term_counts("", "Bauantrag Garage", Features::Words).len(), 3);
        // The title's last word and the text's first make no pair.
        assert_eq!(term_counts("Bauantrag", "Garage", Features::Words).len(), 2);
        assert!(term_counts("", "Bauantrag", Features::All).len() > 1, "n-grams of the word");
    }

    #[test]
    fn naive_bayes_ranks_the_right_label_first() {
        let c = corpus();
        let nb = NaiveBayes::train(&examples(&c));
        assert_eq!(nb.rank("", "Antrag auf Wohngeld und Grundsicherung")[0].label, "50.01");
        assert_eq!(nb.rank("", "Bauantrag und Baugenehmigung")[0].label, "61.20");
        assert!(NaiveBayes::train(&[]).rank("", "x").is_empty());
    }
}
