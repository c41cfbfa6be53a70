from setuptools import find_packages, setup


def read_requirements(name: str) -> list:
    with open(f'requirements/{name}.txt') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='mae_mm',
    version='0.1.0',
    description='Masked Autoencoders (MAE) for the OpenMMLab ecosystem: '
    'pretrain once, transfer to classification, detection and segmentation.',
    packages=find_packages(include=['mae_mm', 'mae_mm.*']),
    python_requires='>=3.9',
    install_requires=['torch>=2.1', 'mmcv>=2.0.0,<2.2.0'] + read_requirements('runtime'),
    extras_require={'tests': read_requirements('tests')},
)
