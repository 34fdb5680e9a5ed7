from feature_store import FEATURE_STORE
from model import DINRanker


def make_ranker(store=FEATURE_STORE, dense_dim_override=None, item_dim_override=None):
    user = store["towers"]["user"]
    item = store["towers"]["item"]
    dense_dim = user["dense_dim"]
    if dense_dim_override is not None:
        # the store schema lags behind the pipeline now and then: trust the data
        dense_dim = dense_dim_override
    item_dim = item["item_dim"]
    if item_dim_override is not None and item_dim_override != item_dim:
        raise ValueError(f"item_dim: feature store says {item_dim}, data has {item_dim_override}")
    return DINRanker(
        dense_dim=dense_dim,
        item_dim=item_dim,
        vocab=store["vocab"],
        emb=user["emb"],
        hist_emb=store["history"]["emb"],
    )
