import torch

from w2s_lib.models import heads, zoo


def test_last_nonpad_pooling_right_and_left_padding():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert heads.pool_last_nonpad(hidden, right).flatten().tolist() == [1.0, 7.0]
    assert heads.pool_last_nonpad(hidden, left).flatten().tolist() == [3.0, 7.0]


def test_last_nonpad_pooling_ignores_token_id_zero():
    """The official code found the end by the first token id 0, which is a real GPT-2 token ('!')."""
    hidden = torch.arange(5, dtype=torch.float32).reshape(1, 5, 1)
    mask = torch.tensor([[1, 1, 1, 1, 0]])  # the input may well contain id 0 at position 1
    assert heads.pool_last_nonpad(hidden, mask).item() == 3.0


def test_mean_pooling_masks_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert heads.pool_mean(hidden, torch.tensor([[1, 1, 0]])).item() == 2.0


def test_minilm_truncation_and_zero_head():
    clf, tok = heads.load_classifier("minilm-l2")
    assert clf.backbone.config.num_hidden_layers == 2 and len(clf.backbone.encoder.layer) == 2
    batch = tok(["a fine day", "a terrible, terrible day indeed"], padding=True, return_tensors="pt")
    out = clf(**{k: batch[k] for k in ("input_ids", "attention_mask")})
    assert out.logits.shape == (2, 2)
    assert torch.all(out.logits == 0)  # zero-initialised head: every student starts at P = 0.5
    full = zoo.num_parameters(zoo.load_backbone("minilm-l6"))
    assert zoo.num_parameters(clf.backbone) < full


def test_minilm_features_know_sentiment_similarity():
    f = heads.encode("minilm-l6", ["the film was wonderful", "a truly great movie", "the soup was cold"])
    sim = torch.nn.functional.cosine_similarity(f[0:1], f)
    assert sim[1] > sim[2]
