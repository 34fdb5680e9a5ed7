_MODELS = {}


def register_model(fn):
    _MODELS[fn.__name__] = fn
    return fn


def create_model(name, **kwargs):
    return _MODELS[name](**kwargs)
