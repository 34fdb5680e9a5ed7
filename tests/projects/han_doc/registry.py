class Registry:
    def __init__(self, name):
        self.name = name
        self._modules = {}

    def register_module(self, name=None):
        def _register(cls):
            self._modules[name or cls.__name__] = cls
            return cls

        return _register

    def build(self, cfg):
        cfg = dict(cfg)
        cls = self._modules[cfg.pop("type")]
        return cls(**cfg)


MODELS = Registry("models")
