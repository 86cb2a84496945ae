// Package textmetrics holds the text-overlap metrics the plugins share, each
// matching a named Python reference exactly:
//
//   - [Tokenize]: rouge_score's tokenizer with use_stemmer=True (lower-case,
//     non-[a-z0-9] to spaces, NLTK's Porter stemmer on tokens longer than 3).
//   - [Stem]: NLTK's PorterStemmer in its default NLTK_EXTENSIONS mode.
//   - [RougeL]: rouge_score's LCS-based ROUGE-L precision, recall and F1.
//   - [NormalizeAnswer], [ExactMatch], [F1]: the SQuAD v1.1 evaluation script.
//   - [NameTokens], [HasName]: alias matching as a contiguous token
//     subsequence (CopyBench's has_name).
//
// It is plain Go with no model dependencies.
package textmetrics
