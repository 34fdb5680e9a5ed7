import logging

import torch
from data import ClausePairs, collate_pairs
from losses import info_nce, recall_at_k
from omegaconf import OmegaConf
from retriever import ClauseRetriever
from torch.utils.data import DataLoader

logger = logging.getLogger("clauses")


def run(cfg):
    loader = DataLoader(
        ClausePairs(cfg.data.path),
        batch_size=cfg.train.batch_size,
        shuffle=True,
        collate_fn=collate_pairs,
    )
    model = ClauseRetriever(cfg.model).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=0.01)
    for epoch in range(cfg.train.epochs):
        for step, batch in enumerate(loader):
            batch = {k: v.cuda() for k, v in batch.items()}
            qv = model.encode_query(batch["q_ids"], batch["q_mask"], batch["q_meta"])
            cv = model.encode_contract(batch["seg_ids"], batch["seg_mask"], batch["seg_valid"])
            scores = model.similarity(qv, cv)
            loss = info_nce(scores)
            opt.zero_grad()
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_norm)
            opt.step()
            if step % 50 == 0:
                logger.info(
                    "ep %d step %d loss %.4f gnorm %.3f r@5 %.3f",
                    epoch,
                    step,
                    loss.item(),
                    gnorm,
                    recall_at_k(scores),
                )


if __name__ == "__main__":
    run(OmegaConf.load("conf/train.yaml"))
