from datamodule import LJSpeechDataModule
from lightning.pytorch.cli import LightningCLI
from lit_module import LitFastSpeech


class TTSCLI(LightningCLI):
    def add_arguments_to_parser(self, parser):
        parser.link_arguments("data.n_symbols", "model.n_symbols", apply_on="instantiate")
        parser.link_arguments("data.n_mels", "model.n_mels")


def cli_main():
    TTSCLI(LitFastSpeech, LJSpeechDataModule, save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    cli_main()
