"""Training data formats, pseudo-queries, mining, teacher-score caching and config validation."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from sparsedoc.encoder.errors import ConfigError, InputError
from sparsedoc.encoder.training.config import parse_config
from sparsedoc.encoder.training.data import TrainingExample, mine_hard_negatives, read_training_file
from sparsedoc.encoder.training.pseudo_queries import document_body, generate_pseudo_queries
from sparsedoc.encoder.loading import model_fingerprint
from sparsedoc.encoder.training.teachers import score_with_teachers


def test_both_formats(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"query": "q1", "pos": "p", "negs": ["n1", "n2"]}\n\n'
        '{"query": "q2", "docs": ["p", "n"], "scores": [2, 1]}\n'
        '{"query": "q3", "docs": ["p", "n"], "scores": {"dense": [0.9, 0.1], "sparse": [5, 3]}}\n'
    )
    a, b, c = read_training_file(path)
    assert a == TrainingExample("q1", ["p", "n1", "n2"], {})
    assert b.scores == {"scores": [2.0, 1.0]}
    assert c.scores["sparse"] == [5.0, 3.0]


@pytest.mark.parametrize(("text", "match"), [
    ("", "no examples"),
    ('{"query": "q", "pos": "p"}\n{"query": 3}\n', r":2: field 'query'"),
    ('{"query": "q", "docs": ["a", "b"], "scores": [1]}\n', "need 2 finite numbers"),
    ('{"query": "q", "pos": "p"\n', ":1: malformed JSON"),
])
def test_training_file_errors(tmp_path, text, match):
    path = tmp_path / "t.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_training_file(path)


DOCS = [
    SimpleNamespace(doc_id=str(i), title=f"title {i} .",
                    text=f"title {i} . the flow over wing {i} was measured carefully . lift rises with the angle "
                         f"of attack in case {i} . drag was found to increase near stall for model {i} .")
    for i in range(5)
]


def test_pseudo_queries_deterministic_and_non_trivial():
    first = generate_pseudo_queries(DOCS, seed=3, per_document=2)
    assert first == generate_pseudo_queries(DOCS, seed=3, per_document=2)
    assert first != generate_pseudo_queries(DOCS, seed=4, per_document=2)
    assert len(first) == 10 and {q.strategy for q in first} <= {"sentence", "span", "keywords"}
    for query in first:
        doc = DOCS[int(query.doc_id)]
        assert not query.positive.startswith(doc.title)  # title stripped from the positive
        assert query.query != doc.title
        if query.strategy in ("sentence", "span"):
            assert query.query not in query.positive


def test_sentence_strategy_cuts_the_sentence_out():
    (query,) = generate_pseudo_queries(DOCS[:1], seed=0, strategies={"sentence": 1.0})
    assert query.strategy == "sentence"
    assert query.query.split()[0] in document_body(DOCS[0].text, DOCS[0].title)
    assert query.query not in query.positive
    with pytest.raises(ConfigError, match="strategies"):
        generate_pseudo_queries(DOCS, strategies={"title": 1.0})


@dataclass
class FakeBackend:
    ranking: list[str]

    def search_bm25(self, text, k):
        hits = [SimpleNamespace(doc_id=d, score=1.0, rank=r) for r, d in enumerate(self.ranking[:k], start=1)]
        return SimpleNamespace(hits=tuple(hits), took_ms=0.0)


def test_mining_excludes_own_document():
    queries = generate_pseudo_queries(DOCS[:1], seed=0)
    examples = mine_hard_negatives(queries, FakeBackend(["0", "3", "1"]), {"0": "d0", "1": "d1", "3": "d3"},
                                   num_negatives=2, depth=5)
    assert examples[0].docs == [queries[0].positive, "d3", "d1"]


class CountingTeacher:
    name, fingerprint = "fake", "fp1"

    def __init__(self):
        self.calls = 0

    def score(self, queries, docs):
        self.calls += 1
        return [[float(len(d)) for d in group] for group in docs]


def test_teacher_scores_are_cached(tmp_path):
    examples = [TrainingExample("q", ["aa", "b"])]
    teacher = CountingTeacher()
    first = score_with_teachers(examples, [teacher], cache_dir=tmp_path)
    second = score_with_teachers(examples, [teacher], cache_dir=tmp_path)
    assert teacher.calls == 1 and first[0].scores == second[0].scores == {"fake": [2.0, 1.0]}
    score_with_teachers([TrainingExample("q", ["aa", "bbb"])], [teacher], cache_dir=tmp_path)
    assert teacher.calls == 2  # different data, different key
    assert examples[0].scores == {}  # inputs are not modified


def test_fingerprint_follows_content(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    before = model_fingerprint(tmp_path)
    (tmp_path / ".marker").write_text("ignored")
    assert model_fingerprint(tmp_path) == before
    (tmp_path / "config.json").write_text('{"a": 1}')
    assert model_fingerprint(tmp_path) != before


BASE = {"output_dir": "out", "train_file": "t.jsonl", "steps": 5, "student": {"model_dir": "m"},
        "teachers": [{"name": "d", "kind": "dense", "model_dir": "t"}]}


@pytest.mark.parametrize(("patch", "match"), [
    ({"stepz": 3}, "stepz: Extra inputs are not permitted"),
    ({"steps": 0}, "steps: Input should be greater than 0"),
    ({"loss": {"flops_weight": -1}}, "loss.flops_weight"),
    ({"loss": {"ranking": "mse"}}, "loss.ranking"),
    ({"student": {"model_dir": "m", "max_lenght": 3}}, "student.max_lenght"),
    ({"teachers": [{"name": "d", "kind": "dense", "model_dir": "t"}] * 2}, "unique"),
    ({"teachers": [{"name": "d", "kind": "cross", "model_dir": "t"}]}, "teachers.0.kind"),
])
def test_config_rejects(patch, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(BASE | patch, "/base")


def test_config_resolves_relative_paths():
    config = parse_config(BASE, "/base")
    assert str(config.student.model_dir) == "/base/m" and str(config.teachers[0].model_dir) == "/base/t"
    assert config.loss.score_scale == 30.0 and config.loss.ranking == "kl"


def test_bm25_teacher_config_needs_no_model_but_dense_does():
    config = parse_config(BASE | {"teachers": [{"name": "lex", "kind": "bm25"}]}, "/base")
    assert config.teachers[0].model_dir is None
    with pytest.raises(ConfigError, match="needs model_dir"):
        parse_config(BASE | {"teachers": [{"name": "d", "kind": "dense"}]}, "/base")


def test_bm25_teacher_ranks_exact_matches_and_saturates():
    from sparsedoc.encoder.training.bm25_teacher import Bm25Teacher, analyze

    assert analyze("The Wings and studies of lift") == ["wing", "study", "lift"]
    docs = ["lift of wings", "lift lift lift of wings", "boundary layers", "heat transfer in nozzles"]
    (scores,) = Bm25Teacher("bm25").score(["wing lift"], [docs])
    assert scores[2] == scores[3] == 0.0 and scores[0] > 0 and scores[1] > scores[0]
    assert scores[1] < 2 * scores[0]  # term frequency saturates (k1)


def test_several_dev_sets_and_single_mapping():
    dev = {"corpus": "c.jsonl", "queries": "q.jsonl", "qrels": "t.tsv"}
    assert len(parse_config(BASE | {"dev": dev}, "/base").dev) == 1
    two = parse_config(BASE | {"dev": [dev, dev | {"name": "other", "idf": "model"}]}, "/base").dev
    assert [d.name for d in two] == [None, "other"] and two[1].idf == "model"


def test_label_teacher_scores_the_positive_and_needs_no_model(tmp_path):
    from sparsedoc.encoder.training.ensemble import ensemble_targets
    from sparsedoc.encoder.training.teachers import make_teacher

    config = parse_config(BASE | {"teachers": [{"name": "gold", "kind": "label"}]}, "/base")
    assert config.teachers[0].model_dir is None
    examples = [TrainingExample("wing lift", ["lift of wings", "boundary layers", "heat"]),
                TrainingExample("jet noise", ["jet noise levels", "wing"])]
    scored = score_with_teachers(examples, [make_teacher("label", "gold", None), CountingTeacher()],
                                 cache_dir=tmp_path)
    assert [e.scores["gold"] for e in scored] == [[1.0, 0.0, 0.0], [1.0, 0.0]]
    import torch

    # beside a teacher that prefers a negative, the label lifts the positive to the top of the target
    target = ensemble_targets({"gold": torch.tensor([[1.0, 0.0, 0.0]]), "fake": torch.tensor([[0.6, 1.0, 0.0]])},
                              scale=1.0)
    assert int(target.argmax()) == 0
