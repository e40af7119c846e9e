"""``synaug balance``: fill an image folder's classes with generated images."""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_balance"]


def _balance_generator(generator, class_names, seed, **params):
    """The generator the command's ``--generator`` names, classes matched by name."""
    from .generators import ConditionalDiffusionGenerator, class_mapping_by_name

    sampling = {k: v for k, v in params.items() if k == "num_inference_steps" and v is not None}
    if generator == "indomain":
        return ConditionalDiffusionGenerator(max_steps=params.get("max_steps"),
                                             max_minutes=params.get("max_minutes"),
                                             random_state=seed, verbose=1, **sampling)
    try:  # a path means a folder, a bare name a shipped model (see from_pretrained)
        mapping = class_mapping_by_name(generator, class_names)
        return ConditionalDiffusionGenerator.from_pretrained(
            generator, class_mapping=mapping, guidance_scale=1.5, **sampling)
    except ValueError as exc:
        raise ValueError(f"generator={generator!r}: {exc} Or pass 'indomain' to train one on "
                         "the images.") from None


def run_balance(input_dir, output_dir, generator="fashion-mnist-small", fill_ratio=1.0,
                image_size=None, seed=0, max_minutes=5.0, color_mode="rgb",
                num_inference_steps=None, max_steps=2000, cache_dir=None):
    """Read an image folder (one sub-folder per class), write a balanced one plus a manifest.

    ``num_inference_steps`` (``None``: the generator's own) sets the sampling
    steps; ``max_steps`` and ``max_minutes`` the in-domain generator's training
    budget; ``cache_dir`` the synthetic bank (resume, reuse).
    Returns the manifest (also written to ``output_dir/manifest.json``).
    """
    from ._sampler import SynAugSampler
    from .datasets import load_image_folder, write_image_folder
    from .datasets._image_folder import check_empty_folder

    check_empty_folder(output_dir, "output_dir")
    data = load_image_folder(input_dir, image_size=image_size, color_mode=color_mode,
                             return_X_y=False)
    gen = _balance_generator(generator, data.target_names, seed, max_steps=max_steps,
                             max_minutes=max_minutes, num_inference_steps=num_inference_steps)
    sampler = SynAugSampler(generator=gen, fill_ratio=fill_ratio, random_state=seed,
                            cache_dir=cache_dir, verbose=1)
    X_res, y_res = sampler.fit_resample(data.data, data.target)
    metadata = {
        "input_dir": str(input_dir), "generator": type(gen).__name__,
        "generator_params": {k: repr(v) for k, v in gen.get_params().items()},
        "generator_fingerprint": sampler.generator_.fingerprint(), "seed": seed,
        "fill_ratio": fill_ratio, "color_mode": color_mode,
    }
    filenames = [data.filenames[i] if i >= 0 else "" for i in sampler.real_index_]
    manifest = write_image_folder(output_dir, X_res, y_res, class_names=data.target_names,
                                  filenames=filenames, synthetic_mask=sampler.synthetic_mask_,
                                  metadata=metadata)
    print(f"{len(y_res)} images ({int(sampler.synthetic_mask_.sum())} generated) written to "
          f"{Path(output_dir)}/")
    return manifest
