"""Feature-store schema: which columns each tower reads, and how wide they are."""

FEATURE_STORE = {
    "version": "2024-05-rc2",
    "entities": {"user": "user_id", "item": "item_id"},
    "towers": {
        "user": {"dense_dim": 48, "sparse": ["age_bucket", "geo", "device"], "emb": 16},
        "item": {"item_dim": 32, "sparse": ["category", "brand"], "emb": 16},
    },
    "history": {"max_len": 50, "emb": 32},
    "vocab": {
        "age_bucket": 10,
        "geo": 400,
        "device": 8,
        "category": 2000,
        "brand": 15000,
        "item_id": 500000,
    },
}


def tower_spec(name):
    return FEATURE_STORE["towers"][name]
