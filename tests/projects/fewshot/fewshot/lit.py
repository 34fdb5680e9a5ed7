import lightning as L
import torch
import torch.nn.functional as F
import torchvision

from .modules import CrossTransformerHead, SupportContext


class CrossTransformerLit(L.LightningModule):
    def __init__(self, lr_backbone=1e-4, lr_head=1e-3, max_norm=1.0, max_norm_backbone=5.0):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        resnet = torchvision.models.resnet34(weights=None)
        self.backbone = torch.nn.Sequential(*list(resnet.children())[:-2])
        self.context = SupportContext(512)
        self.head = CrossTransformerHead(512)

    def forward(self, query, support, support_keep, way_keep):
        c, s = support.shape[:2]
        fq = self.backbone(query)
        fs = self.backbone(support.flatten(0, 1))
        tokens = fs.mean((2, 3)).view(c, s, -1)
        tokens = self.context(tokens, support_keep)
        fs = fs + tokens.flatten(0, 1)[:, :, None, None]
        return self.head(fq, fs.unflatten(0, (c, s)), support_keep, way_keep)

    def head_parameters(self):
        return list(self.context.parameters()) + list(self.head.parameters())

    def configure_optimizers(self):
        bb = torch.optim.SGD(self.backbone.parameters(), lr=self.hparams.lr_backbone, momentum=0.9)
        hd = torch.optim.AdamW(self.head_parameters(), lr=self.hparams.lr_head)
        return bb, hd

    def _episode_loss(self, logits, target):
        logits = logits.nan_to_num(0.0)
        return F.cross_entropy(logits, target)

    def training_step(self, batch, batch_idx):
        opt_bb, opt_head = self.optimizers()
        logits = self(batch["query"], batch["support"], batch["support_keep"], batch["way_keep"])
        loss = self._episode_loss(logits, batch["target"])
        opt_bb.zero_grad()
        opt_head.zero_grad()
        self.manual_backward(loss)
        bb_norm = torch.nn.utils.clip_grad_norm_(
            self.backbone.parameters(), self.hparams.max_norm_backbone
        )
        torch.nn.utils.clip_grad_norm_(self.head_parameters(), self.hparams.max_norm)
        opt_bb.step()
        opt_head.step()
        self.log_dict({"train/loss": loss, "grad_norm/backbone": bb_norm}, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        logits = self(batch["query"], batch["support"], batch["support_keep"], batch["way_keep"])
        acc = (logits.nan_to_num(-1e4).argmax(-1) == batch["target"]).float().mean()
        self.log("val/acc", acc, prog_bar=True)
