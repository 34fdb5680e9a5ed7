import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.data = ml_collections.ConfigDict()
    config.data.root = "data/coco_resnet101"
    config.data.feat_dim = 2048
    config.data.batch_size = 32
    config.model = ml_collections.ConfigDict()
    config.model.attention_dim = 512
    config.model.embed_dim = 512
    config.model.decoder_dim = 512
    config.model.dropout = 0.5
    config.optim = ml_collections.ConfigDict()
    config.optim.lr = 4e-4
    config.optim.grad_clip = 5.0
    config.optim.alpha_c = 1.0
    config.optim.epochs = 20
    return config
