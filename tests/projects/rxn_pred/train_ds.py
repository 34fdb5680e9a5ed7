import argparse
import logging

import deepspeed
import torch
import torch.nn.functional as F
import utils as U
from data import USPTODataset, collate_batch
from model import RxnTransformer

logger = logging.getLogger(__name__)


def get_args():
    parser = argparse.ArgumentParser(description="USPTO forward reaction prediction")
    parser.add_argument("--train", default="data/uspto_mit/train.jsonl")
    parser.add_argument("--vocab-size", type=int, default=320)
    parser.add_argument("--n-condition-features", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--local_rank", type=int, default=-1)
    parser = deepspeed.add_config_arguments(parser)
    return parser.parse_args()


def main():
    args = get_args()
    deepspeed.init_distributed()
    ds = USPTODataset(args.train, max_len=256)
    model = RxnTransformer(args.vocab_size, args.n_condition_features, d_model=args.d_model)
    engine, optimizer, loader, _ = deepspeed.initialize(
        args=args,
        model=model,
        model_parameters=model.parameters(),
        training_data=ds,
        collate_fn=collate_batch,
    )
    for epoch in range(args.epochs):
        for step, batch in enumerate(loader):
            src, tgt, cond = (
                t.to(engine.device) for t in (batch["src"], batch["tgt"], batch["cond"])
            )
            logits = engine(src, tgt[:, :-1], cond)
            logits = logits.masked_fill(torch.isnan(logits), 0.0)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                tgt[:, 1:].reshape(-1),
                ignore_index=U.PAD,
                label_smoothing=args.label_smoothing,
            )
            engine.backward(loss)
            engine.step()
            if engine.global_rank == 0 and step % 200 == 0:
                acc = U.token_accuracy(logits.detach(), tgt[:, 1:])
                logger.info(
                    "epoch %d step %d loss %.4f acc %.3f", epoch, step, loss.item(), acc.item()
                )


if __name__ == "__main__":
    main()
