from dataclasses import dataclass, field, fields


@dataclass
class EHRConfig:
    code_vocab: int = 18000
    n_lab_features: int = 42
    n_demo_features: int = 9
    hidden: int = 256
    heads: int = 4
    layers: int = 3
    max_visits: int = 64
    max_codes: int = 40
    tasks: list = field(default_factory=lambda: ["mortality", "readmit30", "los7"])

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
