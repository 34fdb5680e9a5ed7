import yaml

CONFIG_YAML = """
data:
  path: data/adult.parquet
  target: income
  n_num_features: 6
  cat_cardinalities: [9, 16, 7, 15, 6, 5, 2, 42]
model:
  d_token: 192
  n_blocks: 3
  n_heads: 8
  attn_dropout: 0.2
  ffn_factor: 1.333
optim:
  lr: 1.0e-4
  weight_decay: 1.0e-5
  max_norm: 1.0
  epochs: 100
  batch_size: 256
"""

CFG = yaml.safe_load(CONFIG_YAML)
