import logging

import han  # noqa: F401  registers the models
import torch
import torch.nn.functional as F
import utils as U
from data import DocDataset, build_vocab, doc_collate
from mmengine.config import Config
from registry import MODELS

logger = logging.getLogger("han")


def main(config_path="configs/han_yelp.py"):
    cfg = Config.fromfile(config_path)
    vocab = build_vocab(cfg.data.train, min_freq=cfg.data.min_freq)
    train = DocDataset(
        cfg.data.train, vocab, max_sents=cfg.data.max_sents, max_words=cfg.data.max_words
    )
    loader = torch.utils.data.DataLoader(
        train, batch_size=cfg.data.batch_size, shuffle=True, collate_fn=doc_collate
    )
    vectors = U.load_vectors(cfg.data.glove, vocab)
    cfg.model.word_dim = vectors.shape[1]
    model = MODELS.build(dict(cfg.model, vocab_size=len(vocab), embeddings=vectors)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr, momentum=0.9)
    for epoch in range(cfg.optim.epochs):
        model.train()
        for i, batch in enumerate(loader):
            docs, wm, sm, y = (t.cuda() for t in batch)
            logits = model(docs, wm, sm)
            loss = F.cross_entropy(logits, y, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            U.clip_(model, cfg.optim.max_norm)
            torch.nn.utils.clip_grad_value_(model.parameters(), cfg.optim.clip_value)
            opt.step()
            if i % 100 == 0:
                logger.info("epoch %d it %d loss %.4f", epoch, i, loss.item())


if __name__ == "__main__":
    main()
