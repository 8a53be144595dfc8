# OptionsV4 image: the official Airflow image, extended the documented way
# (https://airflow.apache.org/docs/docker-stack/build.html), plus the pipeline's pinned requirements and the
# optionsv4 package. docker-compose.yaml builds it for every Airflow service.
#
# No secrets are baked in: credentials reach the containers at run time through the environment (.env).
# The Airflow version in the tag must equal the apache-airflow pin in requirements.txt (tests/test_compose.py).
FROM apache/airflow:3.3.2-python3.11

# Where the project lives in the image. optionsv4_lib finds include/ (SQL migrations, reference data, GX context)
# next to its own package directory (optionsv4_lib/paths.py), so the package is installed *editable* from here and
# docker-compose.yaml mounts the checkout's ./include over /opt/optionsv4/include.
USER root
RUN mkdir -p /opt/optionsv4 && chown airflow:0 /opt/optionsv4
# The image's Python packages live in a virtualenv owned by the airflow user; pip refuses to run as root there.
USER airflow

# Dependencies first, so editing the library does not re-run the (long) dependency install.
# Naming apache-airflow at the base image's version (AIRFLOW_VERSION is set by the base image) keeps pip from
# up- or downgrading Airflow while it resolves our pins. constraints.txt is deliberately not used here: it pins the
# project's own virtualenv, which lacks the providers the image ships (celery, fab, redis, ...), whereas here pip
# resolves our exact direct pins against the versions already in the image; `pip check` below catches any conflict.
COPY --chown=airflow:0 requirements.txt /opt/optionsv4/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/optionsv4/requirements.txt

# The package (README.md: pyproject.toml names it as the readme, and the build reads it).
COPY --chown=airflow:0 pyproject.toml README.md /opt/optionsv4/
COPY --chown=airflow:0 optionsv4_lib /opt/optionsv4/optionsv4_lib
COPY --chown=airflow:0 include /opt/optionsv4/include
RUN pip install --no-cache-dir --no-deps -e /opt/optionsv4 \
    && pip check \
    && optionsv4 --help > /dev/null
