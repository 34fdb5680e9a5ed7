from recsys.nets import Recommender


def create(settings, n_feats=None):
    width = settings.model.n_feats
    if n_feats is not None:
        width = n_feats
    return Recommender(width, dim=settings.model.dim, scaled=settings.model.scaled)
